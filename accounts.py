"""Account rules: who a verified provider identity signs in as, and what happens to the user's
linked identities. No request objects here; the callback view passes in what it verified.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import tokens
from extensions import db
from models import LinkedAccount, User, utcnow
from providers import Identity, SignInResult


def find_link(provider: str, subject: str) -> LinkedAccount | None:
    """The link of an identity, looked up by `(provider, subject)` only, never by e-mail."""
    return db.session.execute(
        select(LinkedAccount).where(
            LinkedAccount.provider == provider, LinkedAccount.subject == subject
        )
    ).scalar_one_or_none()


def sign_in(result: SignInResult) -> User:
    """The user this identity belongs to, created on first sign-in; its tokens are updated."""
    try:
        return _sign_in(result)
    except IntegrityError:
        # Two first sign-ins of one identity raced and the other one created the user:
        # use theirs.
        db.session.rollback()
        return _sign_in(result)


def _sign_in(result: SignInResult) -> User:
    identity = result.identity
    link = find_link(identity.provider, identity.subject)
    if link is None:
        user = User(display_name=identity.display_name, email=identity.email)
        link = LinkedAccount(
            user=user, provider=identity.provider, subject=identity.subject, issuer=identity.issuer
        )
        db.session.add(link)
    _update_identity(link, identity)
    # Signing in again replaces the stored tokens: the new grant is the one that works.
    tokens.store(link, result.token)
    link.user.last_sign_in_at = utcnow()
    db.session.commit()
    return link.user


def _update_identity(link: LinkedAccount, identity: Identity) -> None:
    link.display_name = identity.display_name
    link.email = identity.email


def load_user(user_id: str) -> User | None:
    """The user a session cookie names, if they still exist."""
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
