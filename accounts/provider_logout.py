"""A provider ends sessions here (OpenID Connect Back-Channel Logout): the logout token's `jti` is
recorded, so that the same token is never acted on twice on any instance or worker, and the
sessions it names end, in one transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts import sessions, signals
from extensions import db
from models import AcceptedLogoutToken, UserSession, utcnow

# How long an accepted token's jti is remembered: far longer than the token can pass the `iat`
# check (oauth.logout_token.MAX_AGE_SECONDS), after which a replay is refused for its age alone.
REMEMBER_FOR = timedelta(hours=1)


class LogoutTokenReplayed(Exception):
    """This logout token (issuer and jti) was accepted before."""


def end_sessions(provider, claims: dict[str, Any]) -> int:
    """Record the token and end the sessions it names; returns how many ended.

    Raises LogoutTokenReplayed, ending nothing, when its `jti` was seen before.
    """
    subject, sid = claims.get("sub"), claims.get("sid")
    db.session.add(
        AcceptedLogoutToken(
            issuer=provider.issuer, jti=claims["jti"], expires_at=utcnow() + REMEMBER_FOR
        )
    )
    try:
        # Flushed first: of two deliveries at once, the second fails here and ends nothing.
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise LogoutTokenReplayed from error
    session_ids = list(
        db.session.scalars(
            select(UserSession.id).where(
                sessions.named_by_provider(provider.name, subject=subject, sid=sid),
                UserSession.ended_at.is_(None),
            )
        )
    )
    ended = sessions.end_for_provider(provider.name, subject=subject, sid=sid)
    db.session.commit()
    signals.provider_ended_sessions.announce(
        provider=provider, subject=subject, sid=sid, session_ids=session_ids
    )
    return ended
