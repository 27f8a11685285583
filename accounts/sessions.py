"""Sessions as rows: each sign-in starts one (`start`), the session cookie names it by its key,
and every request reads it with its user (`load_user`). Ending a row signs that browser out, and
every copy of its cookie: by the person (sign-out, from the sessions page) or by the provider
(a back-channel logout token, `end_for_provider`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from accounts import browsers, signed_in
from extensions import db
from models import SessionEnd, User, UserSession, utcnow

# `last_seen_at` is written at most this often: a write per request would cost every page a
# transaction, for a figure the sessions page shows to the minute.
LAST_SEEN_EVERY = timedelta(minutes=1)


def start(user: User, *, provider: str, claims: Mapping[str, Any], user_agent: str) -> UserSession:
    """Begin a session for `user` signed in through `provider`, and commit it.

    `claims` are the verified ID token's (empty for OAuth-only providers): `sub` and `sid` let
    the provider end this session later, `auth_time` says when the person last authenticated.
    """
    now = utcnow()
    record = UserSession(
        user=user,
        provider=provider,
        subject=_text_claim(claims, "sub"),
        sid=_text_claim(claims, "sid"),
        browser=browsers.describe(user_agent),
        authenticated_at=auth_time(claims) or now,
        created_at=now,
        last_seen_at=now,
    )
    db.session.add(record)
    db.session.commit()
    user.current_session = record
    return record


def load_user(key: str) -> signed_in.SignedInUser | None:
    """The user of the session a cookie names, if that session exists and has not ended: a
    read-only snapshot (`accounts.signed_in`) with the user's links and live sessions."""
    user = signed_in.from_rows(_read_signed_in({"key": str(key)}))
    if user is None or user.current_session.ended_at is not None:
        return None
    if utcnow() - user.current_session.last_seen_at >= LAST_SEEN_EVERY:
        user = signed_in.seen(user, _mark_seen(user.current_session))
    return user


def ended_session(key: str) -> UserSession | None:
    """The ended session a cookie names, to tell its browser who ended it; None otherwise."""
    record = db.session.execute(select(UserSession).where(UserSession.key == str(key))).scalar()
    return record if record is not None and record.ended_at is not None else None


def active(user: signed_in.SignedInUser) -> list:
    """The user's sessions that had not ended when the request began (read with the user), the
    most recently seen first."""
    return sorted(
        user.active_sessions,
        key=lambda record: (record.last_seen_at, record.id),
        reverse=True,
    )


def reauthenticated(record, at: datetime) -> None:
    """The person proved who they are again, at `at`, in session `record`; commit."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == record.id)
        .values(authenticated_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def end(record: UserSession, reason: str = SessionEnd.SIGNED_OUT) -> None:
    """End one session, and commit."""
    _end(UserSession.id == record.id, reason)
    db.session.commit()


def end_session_of(user: User, session_id: int) -> bool:
    """End one of the user's own sessions by its id (from the sessions page); False if it is not
    theirs or has already ended."""
    ended = _end(
        (UserSession.id == session_id) & (UserSession.user_id == user.id),
        SessionEnd.SIGNED_OUT_ELSEWHERE,
    )
    db.session.commit()
    return ended > 0


def end_others(user: User, keep: UserSession) -> int:
    """End every session of the user but `keep`, and commit; returns how many ended."""
    ended = _end(
        (UserSession.user_id == user.id) & (UserSession.id != keep.id),
        SessionEnd.SIGNED_OUT_ELSEWHERE,
    )
    db.session.commit()
    return ended


def end_for_provider(provider: str, *, subject: str | None, sid: str | None) -> int:
    """End the sessions a provider's logout token names (not committed); returns how many."""
    return _end(named_by_provider(provider, subject=subject, sid=sid), SessionEnd.PROVIDER)


def named_by_provider(provider: str, *, subject: str | None, sid: str | None):
    """The sessions a logout token names: those of that `sid` when it names one, else every
    session of that `subject` at that provider. With both, a session must match both: a `sid`
    never ends another person's session."""
    condition = UserSession.provider == provider
    if sid is not None:
        condition &= UserSession.sid == sid
    if subject is not None:
        condition &= UserSession.subject == subject
    return condition


def _end(condition, reason: str) -> int:
    result = db.session.execute(
        update(UserSession)
        .where(condition, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def _read_signed_in(parameters: dict[str, str]) -> list:
    """The signed-in read's rows, taken on a connection of its own (`_on_its_own`)."""
    return _on_its_own(signed_in.STATEMENT, parameters, lambda result: result.mappings().all())


def _mark_seen(record) -> datetime:
    """Move `last_seen_at` on, in a statement of its own (like the read); returns the time
    written."""
    now = utcnow()
    _on_its_own(
        update(UserSession)
        .where(UserSession.id == record.id, UserSession.ended_at.is_(None))
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False),
        {},
        lambda result: None,
    )
    return now


def _on_its_own(statement, parameters: dict, take):
    """`take(result)` of one statement run on a connection of its own in autocommit mode, the
    connection handed back at once; inside the request's transaction if something earlier in
    the request began one.

    A single statement gains nothing from a transaction: at READ COMMITTED a SELECT sees the same
    rows either way. Without one, PostgreSQL is spared a BEGIN and a COMMIT or ROLLBACK round trip
    on every signed-in page, and the request holds no transaction open (and no connection) while
    it waits on the provider; whatever the request writes later begins a transaction of its own.
    The rows are taken before the connection goes back to the pool: a cursor left open would hold
    SQLite's read lock, and a writer's commit would wait on it.
    """
    session = db.session()  # this request's Session, behind the scoped proxy
    if session.in_transaction():
        return take(session.execute(statement, parameters))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return take(connection.execute(statement, parameters))


def _text_claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def auth_time(claims: Mapping[str, Any]) -> datetime | None:
    """The ID token's `auth_time` (Core §2), when it is a plausible number of seconds."""
    value = claims.get("auth_time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
