"""Jobs run outside requests (from the CLI or a scheduler): re-encrypt stored tokens with the
newest key, refresh tokens that will expire soon, and purge what can no longer be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography.fernet import InvalidToken
from sqlalchemy import delete, or_, select

import oauth
from accounts import row_locks, tokens
from extensions import db
from models import (
    AcceptedLogoutToken,
    LinkedAccount,
    LinkStatus,
    LoginAttempt,
    UserSession,
    utcnow,
)

CIPHERTEXT_COLUMNS = (
    "access_token_ciphertext",
    "refresh_token_ciphertext",
    "id_token_ciphertext",
    # The DPoP key: without it the tokens bound to it are useless, so it moves with them.
    "dpop_key_ciphertext",
)


@dataclass(frozen=True)
class Outcome:
    """How many rows a job handled, and how many it could not."""

    done: int
    failed: int


def reencrypt_tokens() -> Outcome:
    """Re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEYS.

    Safe while the site serves traffic: each link is locked, read again and committed on its
    own, so a refresh that lands meanwhile is never overwritten with an older, already spent
    refresh token. A ciphertext no key can read is dropped and its link marked for reconnection.
    """
    cipher = tokens.cipher()
    done = failed = 0
    for link_id in db.session.scalars(select(LinkedAccount.id)).all():
        link = tokens.lock_and_reread(link_id)
        if link is None:  # unlinked since the list was read
            row_locks.release()
            continue
        try:
            for column in CIPHERTEXT_COLUMNS:
                value = getattr(link, column)
                if value is not None:
                    setattr(link, column, cipher.rotate(value))
            done += 1
        except InvalidToken:
            tokens.discard(link)
            failed += 1
        db.session.commit()
    for attempt in db.session.scalars(select(LoginAttempt)):
        try:
            attempt.code_verifier_ciphertext = cipher.rotate(attempt.code_verifier_ciphertext)
            if attempt.dpop_key_ciphertext is not None:
                attempt.dpop_key_ciphertext = cipher.rotate(attempt.dpop_key_ciphertext)
        except InvalidToken:
            db.session.delete(attempt)
    db.session.commit()
    return Outcome(done, failed)


def refresh_expiring(within: timedelta) -> Outcome:
    """Refresh every connected link whose access token expires within `within`.

    Same single-flight path as a page view, so it is safe to run while the app serves traffic.
    """
    deadline = utcnow() + within
    link_ids = db.session.scalars(
        select(LinkedAccount.id).where(
            LinkedAccount.status == LinkStatus.CONNECTED,
            LinkedAccount.refresh_token_ciphertext.is_not(None),
            LinkedAccount.expires_at <= deadline,
        )
    ).all()
    done = failed = 0
    for link_id in link_ids:
        link = db.session.get(LinkedAccount, link_id)
        if link is None:  # unlinked since the list was read
            continue
        try:
            tokens.fresh_access_token(link, force_refresh=True, reason="Scheduled refresh.")
            done += 1
        except tokens.LinkRemoved:
            continue
        except (tokens.ReconnectNeeded, oauth.ProviderError):
            failed += 1
    return Outcome(done, failed)


@dataclass(frozen=True)
class Purged:
    attempts: int
    links: int
    #: Dead links left in place because they are their user's only way to sign in.
    kept: int
    #: Sessions that ended (or were idle past the session lifetime) longer than `older_than` ago.
    sessions: int = 0
    #: Accepted logout tokens too old to pass their `iat` check again.
    logout_tokens: int = 0


def purge(older_than: timedelta) -> Purged:
    """Delete expired sign-in attempts, sessions ended or idle for longer than `older_than`,
    remembered logout tokens past their time, and links left needing reconnection for longer
    than `older_than` when their user can still sign in another way."""
    now = utcnow()
    attempts = db.session.execute(delete(LoginAttempt).where(LoginAttempt.expires_at < now))
    sessions = db.session.execute(
        delete(UserSession).where(
            or_(
                UserSession.ended_at < now - older_than, UserSession.last_seen_at < now - older_than
            )
        )
    )
    logout_tokens = db.session.execute(
        delete(AcceptedLogoutToken).where(AcceptedLogoutToken.expires_at < now)
    )
    dead = db.session.scalars(
        select(LinkedAccount).where(
            LinkedAccount.status == LinkStatus.RECONNECT_NEEDED,
            LinkedAccount.updated_at < now - older_than,
        )
    ).all()
    links = kept = 0
    for link in dead:
        if len(link.user.linked_accounts) > 1:
            link.user.linked_accounts.remove(link)
            links += 1
        else:
            kept += 1
    db.session.commit()
    return Purged(
        attempts=attempts.rowcount,
        links=links,
        kept=kept,
        sessions=sessions.rowcount,
        logout_tokens=logout_tokens.rowcount,
    )
