"""The provider's sign-in sessions as clients see them: the random session id (`sid`) made at
sign-in, the grants given during a session, and the clients that received an ID token in it, so
that ending the session can tell each of them (`backchannel.py`). The session itself is the
provider's signed cookie (`views.py`); only these records are in the database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from demo_provider.extensions import db
from demo_provider.models import Grant, GrantSession, SessionParticipant, User

# 128 random bits, as OIDC Back-Channel Logout 1.0 section 2.4 asks of a `sid`: unguessable, so
# a logout token cannot be forged for someone else's session by guessing it.
SID_BYTES = 16


@dataclass(frozen=True)
class Participant:
    """A client that took part in a session, and the person's `sub` as its ID tokens named it."""

    client_id: str
    sub: str


def new_sid() -> str:
    """A fresh session id. It travels in ID tokens and logout tokens, so it only names the
    session; what proves the session is the signed cookie, never the sid.
    """
    return secrets.token_urlsafe(SID_BYTES)


def bind_grant(grant: Grant, sid: str) -> None:
    """Remember that `grant` was given in session `sid` (not committed)."""
    db.session.add(GrantSession(grant=grant, sid=sid))


def sid_of_grant(grant_id: str) -> str | None:
    """The session a grant was given in; None for grants older than session ids."""
    return db.session.scalar(select(GrantSession.sid).where(GrantSession.grant_id == grant_id))


def record_participant(sid: str, client_id: str, user_id: int) -> None:
    """Note that `client_id` received an ID token in session `sid`, once, and commit."""
    known = select(SessionParticipant.id).where(
        SessionParticipant.sid == sid, SessionParticipant.client_id == client_id
    )
    if db.session.scalar(known.limit(1)) is None:
        db.session.add(SessionParticipant(sid=sid, client_id=client_id, user_id=user_id))
        db.session.commit()


def end(sid: str) -> list[Participant]:
    """Forget session `sid` and return the clients that took part in it, each once, and commit.
    Forgetting first means a second sign-out of the same session (a double click) tells nobody
    twice.
    """
    rows = db.session.execute(
        select(SessionParticipant.client_id, User.sub)
        .join(User, User.id == SessionParticipant.user_id)
        .where(SessionParticipant.sid == sid)
        .order_by(SessionParticipant.id)
    )
    participants = list(dict.fromkeys(Participant(client_id, sub) for client_id, sub in rows))
    db.session.execute(delete(SessionParticipant).where(SessionParticipant.sid == sid))
    db.session.commit()
    return participants


def leave(user_id: int, client_id: str) -> None:
    """Forget that this client took part in any of this person's sessions (its grants were
    revoked and it has already been told), and commit.
    """
    db.session.execute(
        delete(SessionParticipant).where(
            SessionParticipant.user_id == user_id, SessionParticipant.client_id == client_id
        )
    )
    db.session.commit()
