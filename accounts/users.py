"""Account rules: who a verified provider identity signs in as, linking more identities to a user,
unlinking them, and deleting the account. No request objects here; views pass in what the
callback verified.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

import oauth
import providers
from accounts import row_locks, tokens
from extensions import db
from models import LinkedAccount, User, utcnow
from oauth import Identity, SignInResult
from ops import security_events


class AccountRuleError(Exception):
    """An account rule forbids the change; nothing was changed. `message` is for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def find_link(provider: str, subject: str) -> LinkedAccount | None:
    """The link of an identity, looked up by `(provider, subject)` only, never by e-mail."""
    return db.session.execute(
        select(LinkedAccount).where(
            LinkedAccount.provider == provider, LinkedAccount.subject == subject
        )
    ).scalar_one_or_none()


def link_of(user, provider: str) -> LinkedAccount | None:
    """The user's link to that provider, if they have one: the row itself, to read or change
    (`user` is often the signed-in snapshot, which changes nothing)."""
    return db.session.execute(
        select(LinkedAccount).where(
            LinkedAccount.user_id == user.id, LinkedAccount.provider == provider
        )
    ).scalar_one_or_none()


def sign_in(result: SignInResult, *, provider_title: str) -> User:
    """The user this identity belongs to, created on first sign-in; its tokens are updated.

    A new identity whose verified e-mail address belongs to an existing user is refused rather
    than merged: whoever controls an address at one provider must not inherit an account made
    with another provider. The person signs in the usual way and links the new provider instead.
    """
    try:
        return _sign_in(result, provider_title)
    except IntegrityError:
        # Two first sign-ins of one identity raced and the other one created the user: use theirs.
        db.session.rollback()
        return _sign_in(result, provider_title)


def _sign_in(result: SignInResult, provider_title: str) -> User:
    identity = result.identity
    link = find_link(identity.provider, identity.subject)
    email = verified_email(identity) if link is None else None
    if link is None and email and _email_in_use(email):
        # The address may belong to this very identity, whose first sign-in in another tab
        # created the account a moment ago: look it up again before calling it someone else's.
        link = find_link(identity.provider, identity.subject)
        if link is None:
            raise AccountRuleError(
                "email_already_registered",
                f"An account with the e-mail address of this {provider_title} account already "
                f"exists here. Sign in the way you did before, then link {provider_title} from "
                "your profile page.",
            )
    if link is None:
        user = User(display_name=identity.display_name, email=email)
        link = LinkedAccount(
            user=user, provider=identity.provider, subject=identity.subject, issuer=identity.issuer
        )
        db.session.add(link)
    _update(link, result)
    link.user.last_sign_in_at = utcnow()
    _keep_vouched_email(link.user)
    db.session.commit()
    return link.user


def verified_email(identity: Identity) -> str | None:
    """The identity's e-mail address if its provider vouches for it, else None.

    Only verified addresses are stored or compared: anyone can type someone else's address into
    a provider that does not check it, then sign in here first and make the real owner's first
    sign-in look like a duplicate account.
    """
    return identity.email if identity.email_verified else None


def _email_in_use(email: str) -> bool:
    address = email.strip().lower()
    found = db.session.execute(
        select(User.id)
        .outerjoin(LinkedAccount)
        .where(or_(func.lower(User.email) == address, func.lower(LinkedAccount.email) == address))
        .limit(1)
    ).first()
    return found is not None


def link(
    signed_in_user, result: SignInResult, *, provider_title: str, combined: bool = False
) -> LinkedAccount:
    """Link a verified identity to the signed-in user, or refresh the tokens of their link.
    `combined`: the grant includes the scopes granted before (see `scopes.record`)."""
    # The account's row, to change it (the signed-in user is a read-only snapshot).
    user = db.session.get(User, signed_in_user.id)
    if user is None:
        raise AccountRuleError(
            "account_deleted", "Your account was deleted meanwhile. Nothing was changed."
        )
    identity = result.identity
    owner_link = find_link(identity.provider, identity.subject)
    if owner_link is not None and owner_link.user_id != user.id:
        raise AccountRuleError(
            "identity_linked_to_another_user",
            f"This {provider_title} account is already linked to another account here. "
            "Nothing was changed.",
        )
    existing = link_of(user, identity.provider)
    if existing is not None and existing.subject != identity.subject:
        raise AccountRuleError(
            "provider_already_linked",
            f"Your account is linked to a different {provider_title} account. Unlink it first "
            "if you want to use this one instead.",
        )
    if existing is None:
        existing = LinkedAccount(
            user=user, provider=identity.provider, subject=identity.subject, issuer=identity.issuer
        )
        db.session.add(existing)
    _update(existing, result, combined=combined)
    _keep_vouched_email(user)
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise AccountRuleError(
            "identity_linked_to_another_user",
            f"This {provider_title} account was just linked elsewhere. Nothing was changed.",
        ) from error
    return existing


def _keep_vouched_email(user: User) -> None:
    """The account's e-mail address is one that a link vouches for now. Whoever withdraws it at
    their provider (unticks e-mail at a later sign-in, unlinks the account that gave it) sees
    it go from the account too, instead of the first sign-in's copy staying for good; an
    address that changed at the provider is followed."""
    vouched = [link.email for link in user.linked_accounts if link.email]
    if user.email is None or user.email.lower() not in {email.lower() for email in vouched}:
        user.email = vouched[0] if vouched else None


def _update(link: LinkedAccount, result: SignInResult, *, combined: bool = False) -> None:
    """Signing in again replaces the stored tokens: the new grant is the one that works."""
    identity: Identity = result.identity
    link.display_name = identity.display_name
    link.email = verified_email(identity)
    tokens.store(link, result.token, requested_scope=result.requested_scope, combined=combined)
    tokens.bind(link, result.dpop_key)


def unlink(user: User, provider: str, *, provider_title: str) -> None:
    """Remove a link and its tokens (revoked at the provider first, best effort).

    The last link cannot go: it is the user's only way to sign in. Deleting the account is the
    way out, and the page offers it. LookupError when the user has no such link (any more).
    """
    # The user's row is locked and their links read again: two unlinks sent at once (two tabs)
    # must not both see "two links left" and leave the account with none. The link's own row
    # lock makes a refresh in flight finish first, so its new tokens are revoked too.
    locked_user = row_locks.lock(User, user.id, selectinload(User.linked_accounts))
    link = link_of(locked_user, provider) if locked_user is not None else None
    if link is None or tokens.lock_and_reread(link.id) is None:
        row_locks.release()
        raise LookupError(provider)
    if len(locked_user.linked_accounts) == 1:
        row_locks.release()
        raise AccountRuleError(
            "last_sign_in_method",
            f"{provider_title} is your only way to sign in, so it cannot be unlinked. "
            "You can delete your account instead.",
        )
    tokens.revoke(link)
    locked_user.linked_accounts.remove(link)
    _keep_vouched_email(locked_user)
    db.session.commit()
    security_events.emit("unlink", provider=provider, user_id=user.id)


def delete(user: User) -> None:
    """Delete the user with every link and token (each grant revoked first, best effort).

    Deleting an account that is already gone (a second click, a second tab) changes nothing.
    """
    user_id = user.id
    # Locked first: of two deletions at once, the second waits here and then finds nothing.
    locked_user = row_locks.lock(User, user_id, selectinload(User.linked_accounts))
    if locked_user is None:
        row_locks.release()
        return
    for link in locked_user.linked_accounts:
        tokens.revoke(link)
    db.session.delete(locked_user)
    db.session.commit()
    security_events.emit("delete_account", user_id=user_id)


def provider_sign_out_url(
    user: User, provider_name: str, *, return_to: str, state: str
) -> str | None:
    """Where to end the user's session at that provider too, if it supports that."""
    provider = providers.get(provider_name)
    link = link_of(user, provider_name)
    if provider is None or link is None:
        return None
    try:
        id_token = tokens.decrypt(link.id_token_ciphertext)
    except tokens.UnreadableCiphertext:
        id_token = None
    return oauth.end_session_url(provider, id_token=id_token, return_to=return_to, state=state)
