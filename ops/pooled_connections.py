"""Pooled database connections are checked before use only when they have sat idle: a
connection the server or a firewall dropped meanwhile is replaced, never handed to a request.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

# A connection back from a request this recently is trusted as it is: checking it would cost
# every page a round trip to the database. Any longer, and it is pinged first. (HikariCP, the
# Java pool, uses the same 0.5 s window.) SQLAlchemy's own pool_pre_ping pings every time.
TRUSTED_FOR_SECONDS = 0.5
# Where each pooled connection's record notes when it last went idle.
IDLE_SINCE = "idle_since"


def check_after_idle(engine: Engine) -> None:
    """Ping each pooled connection of `engine` before use if it sat idle for a while."""
    dialect = engine.dialect

    def went_idle(dbapi_connection, record) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    def check(dbapi_connection, record, proxy) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < TRUSTED_FOR_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (or opens a new one).
            raise DisconnectionError("pooled connection unusable") from error

    event.listen(engine, "connect", went_idle)
    event.listen(engine, "checkin", went_idle)
    event.listen(engine, "checkout", check)
