"""Sign-ins in flight: created when the browser is sent to a provider, consumed exactly once when
it comes back. Kept in the database so the session cookie stays small, several tabs can sign in
at once, and a replayed callback finds nothing to complete.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from accounts import tokens
from extensions import db
from models import LoginAttempt, utcnow
from oauth import AuthorizationRequest, dpop


def attempt_id(state: str) -> str:
    """The key a `state` value is filed under; the raw state is never stored."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def create(
    provider: str,
    request: AuthorizationRequest,
    *,
    next_url: str | None,
    user_id: int | None,
    action: str | None = None,
) -> str:
    """Record a started sign-in and return its id, for the browser's session to hold."""
    now = utcnow()
    # Expired attempts are dead weight: clear them out whenever a new one starts.
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.expires_at < now))
    attempt = LoginAttempt(
        id=attempt_id(request.state),
        provider=provider,
        nonce=request.nonce,
        code_verifier_ciphertext=tokens.encrypt(request.code_verifier),
        dpop_key_ciphertext=tokens.encrypt(
            dpop.serialize(request.dpop_key) if request.dpop_key is not None else None
        ),
        next_url=next_url,
        user_id=user_id,
        action=action,
        scope=request.scope,
        created_at=now,
        expires_at=now + timedelta(seconds=current_app.config["LOGIN_ATTEMPT_TTL"]),
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt.id


def consume(identifier: str) -> LoginAttempt | None:
    """Take a pending attempt out of the database; None if unknown, already used or expired.

    The delete is the claim: of two requests racing with one state, only the one whose delete
    removed the row goes on.
    """
    attempt = db.session.get(LoginAttempt, identifier)
    if attempt is None:
        return None
    db.session.expunge(attempt)
    claimed = db.session.execute(delete(LoginAttempt).where(LoginAttempt.id == identifier))
    db.session.commit()
    if claimed.rowcount != 1 or attempt.expires_at <= utcnow():
        return None
    return attempt


def discard(identifiers: list[str]) -> None:
    """Forget attempts a browser no longer holds (it started too many at once)."""
    if identifiers:
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(identifiers)))
        db.session.commit()


def still_pending(identifiers: list[str]) -> list[str]:
    """Those of the ids that can still complete, in the same order."""
    if not identifiers:
        return []
    live = set(
        db.session.scalars(
            select(LoginAttempt.id).where(
                LoginAttempt.id.in_(identifiers), LoginAttempt.expires_at > utcnow()
            )
        )
    )
    return [identifier for identifier in identifiers if identifier in live]


def code_verifier(attempt: LoginAttempt) -> str:
    """The PKCE verifier of an attempt, decrypted for the token request."""
    verifier = tokens.decrypt(attempt.code_verifier_ciphertext)
    if verifier is None:
        raise tokens.UnreadableCiphertext("empty verifier")
    return verifier


def dpop_key(attempt: LoginAttempt):
    """The DPoP key this sign-in's tokens are to be bound to, or None; UnreadableCiphertext as
    for the verifier."""
    text = tokens.decrypt(attempt.dpop_key_ciphertext)
    return dpop.deserialize(text) if text else None
