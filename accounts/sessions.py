"""Sessions: the signed-in user a session cookie names, read once per request, and ending every
session of a user at once (sign-out, "sign out everywhere").
"""

from __future__ import annotations

import hmac

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from extensions import db
from models import User, new_session_token

# The user behind a session cookie, with their links in the same query: every signed-in page
# shows or checks them. Built once, since it runs on every signed-in request: a statement object
# reused as is spares SQLAlchemy rebuilding it and its cache key each time.
_SIGNED_IN_USER = (
    select(User).options(joinedload(User.linked_accounts)).where(User.id == bindparam("user_id"))
)


def load_user(session_id: str) -> User | None:
    """The user a session cookie names, if they exist and the cookie's session token is current."""
    user_id, _, token = str(session_id).partition(":")
    try:
        parameters = {"user_id": int(user_id)}
    except (TypeError, ValueError):
        return None
    user = _read_signed_in_user(parameters)
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Invalidate every session cookie of the user, including copies of it."""
    user.session_token = new_session_token()
    db.session.commit()


def _read_signed_in_user(parameters: dict[str, int]) -> User | None:
    """Run the signed-in read on its own, in autocommit mode, and hand the connection back at once.

    A single SELECT gains nothing from a transaction: at READ COMMITTED it sees the same rows
    either way. Without one, PostgreSQL is spared a BEGIN and a ROLLBACK round trip on every
    signed-in page, and the request holds no transaction open (and no connection) while it waits
    on the provider. The objects stay loaded (the session does not expire them on commit);
    whatever the request writes later begins a transaction of its own at its first statement.
    """
    session = db.session()  # this request's Session, behind the scoped proxy
    if session.in_transaction():
        # Something earlier in this request began a transaction: read inside it.
        return session.execute(_SIGNED_IN_USER, parameters).unique().scalar_one_or_none()
    with session.begin():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return session.execute(_SIGNED_IN_USER, parameters).unique().scalar_one_or_none()
