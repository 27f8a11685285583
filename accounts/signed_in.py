"""The signed-in user as every page reads it: a read-only snapshot of the account, its links and
its live sessions, read once per request in one statement (`STATEMENT`, run by
`accounts.sessions.load_user`).

Pages only read the person (the profile shows each link live, the navigation their name), so the
read builds plain frozen records instead of ORM objects: the ORM's per-object bookkeeping
(identity map, instrumented attributes, the loaders it sets up for every execution) doubled the
read's CPU, and took a tenth of a profile view's instructions. Nothing is changed through a
snapshot, and assigning to one raises: whoever changes the account, a link or a session loads
that row through the ORM by its id, in the transaction that changes it (`accounts.link_of`,
`tokens.lock_and_reread`, `row_locks.lock`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, make_dataclass, replace
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import and_, bindparam, select

from models import LinkedAccount, User, UserSession

_SESSIONS = UserSession.__table__
_USERS = User.__table__
_LINKS = LinkedAccount.__table__
# The user's live sessions, this one included, as the sessions card lists them.
_LISTED = _SESSIONS.alias("listed")
# Of the other sessions, only what the card shows: never their keys, each a credential for its
# browser (this browser's own key is the cookie it sent).
LISTED_SESSION_COLUMNS = ("id", "provider", "browser", "created_at", "last_seen_at")


def _snapshot_type(name: str, columns: Sequence[str], doc: str) -> type:
    """A frozen record with one field per column."""
    record = make_dataclass(name, [(column, Any) for column in columns], frozen=True, slots=True)
    record.__doc__ = doc
    return record


#: A link as read: every column of `linked_accounts`.
LinkSnapshot = _snapshot_type(
    "LinkSnapshot", [column.key for column in _LINKS.columns], "A linked account, read only."
)
#: This browser's session: every column of `user_sessions`.
SessionSnapshot = _snapshot_type(
    "SessionSnapshot", [column.key for column in _SESSIONS.columns], "This session, read only."
)
#: A live session as the sessions card lists it.
ListedSession = _snapshot_type(
    "ListedSession", LISTED_SESSION_COLUMNS, "A live session of the user, as listed."
)


@dataclass(frozen=True, eq=False)
class SignedInUser(UserMixin):
    """The person this request runs for, as read at its start (`current_user`)."""

    id: int
    display_name: str
    email: str | None
    created_at: datetime
    last_sign_in_at: datetime | None
    #: `LinkSnapshot`s, oldest first, as `User.linked_accounts`.
    linked_accounts: tuple[Any, ...]
    #: Every session that had not ended, this one included (`ListedSession`s).
    active_sessions: tuple[Any, ...]
    #: This browser's session (`SessionSnapshot`).
    current_session: Any

    def get_id(self) -> str:
        """What Flask-Login keeps in the session cookie: the key of the current session."""
        return self.current_session.key


def _labelled(table, prefix: str, names: Sequence[str]):
    return [table.c[name].label(f"{prefix}{name}") for name in names]


_USER_COLUMNS = ("id", "display_name", "email", "created_at", "last_sign_in_at")
#: The session a cookie names, with its user, the user's links and their live sessions, in one
#: statement: every signed-in page shows or checks the links, and the profile lists the sessions
#: (a few rows more for the other pages costs less than a round trip for that one). Built once:
#: a statement reused as is spares SQLAlchemy rebuilding it and its cache key every time.
STATEMENT = (
    select(
        *_labelled(_SESSIONS, "session_", SessionSnapshot.__dataclass_fields__),
        *_labelled(_USERS, "user_", _USER_COLUMNS),
        *_labelled(_LINKS, "link_", LinkSnapshot.__dataclass_fields__),
        *_labelled(_LISTED, "listed_", LISTED_SESSION_COLUMNS),
    )
    .select_from(
        _SESSIONS.join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
        .outerjoin(_LINKS, _LINKS.c.user_id == _USERS.c.id)
        .outerjoin(_LISTED, and_(_LISTED.c.user_id == _USERS.c.id, _LISTED.c.ended_at.is_(None)))
    )
    .where(_SESSIONS.c.key == bindparam("key"))
    .order_by(_LINKS.c.created_at, _LINKS.c.id, _LISTED.c.id)
)


def from_rows(rows: Sequence[Mapping[str, Any]]) -> SignedInUser | None:
    """The user, with this session, from `STATEMENT`'s rows (one per pair of a link and a live
    session); None when no session has that key."""
    if not rows:
        return None
    first = rows[0]
    session = SessionSnapshot(**_fields(first, "session_", SessionSnapshot.__dataclass_fields__))
    links: dict[int, Any] = {}
    listed: dict[int, Any] = {}
    for row in rows:
        if row["link_id"] is not None and row["link_id"] not in links:
            links[row["link_id"]] = LinkSnapshot(
                **_fields(row, "link_", LinkSnapshot.__dataclass_fields__)
            )
        if row["listed_id"] is not None and row["listed_id"] not in listed:
            listed[row["listed_id"]] = ListedSession(
                **_fields(row, "listed_", LISTED_SESSION_COLUMNS)
            )
    return SignedInUser(
        **_fields(first, "user_", _USER_COLUMNS),
        linked_accounts=tuple(links.values()),
        active_sessions=tuple(listed.values()),
        current_session=session,
    )


def _fields(row: Mapping[str, Any], prefix: str, names) -> dict[str, Any]:
    return {name: row[f"{prefix}{name}"] for name in names}


def seen(user: SignedInUser, at: datetime) -> SignedInUser:
    """The snapshot after this session's `last_seen_at` moved on to `at`: in the session and in
    the list of live sessions alike, as the sessions card shows it."""
    session = replace(user.current_session, last_seen_at=at)
    listed = tuple(
        replace(record, last_seen_at=at) if record.id == session.id else record
        for record in user.active_sessions
    )
    return replace(user, current_session=session, active_sessions=listed)
