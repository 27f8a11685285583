"""Database queries per profile view, on the hot path (signed-in user, valid access token).

In process: the real app from `app.create_app()` on a throwaway PostgreSQL database, the demo
provider live on 127.0.0.1, Alice signed in through the whole flow with Flask's test client.
After a few warm-up views, SQLAlchemy engine events count, for each further profile view, the
SQL statements sent (`before_cursor_execute`), the pings of pooled connections (a round trip
each; pooled_connections pings only a connection that sat idle) and the transactions the server
saw (each a BEGIN and a COMMIT or ROLLBACK round trip; a statement in autocommit mode has neither).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event

import app as client_app
import inspector
from bench import site
from bench.report import Result
from extensions import db
from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, client_config
from tests.e2e.deployment import throwaway_database
from tests.e2e.live_demo import DemoFlow, serve_demo_provider

NAME = "queries"
TITLE = "Database queries per profile view"
GOAL = 2
WARMUP_VIEWS = 3


def _shape(statement: str) -> str:
    """A statement in a few words: its verb and the table it is about."""
    verb = statement.split(None, 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", statement, re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table else verb


class _Counts:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.pings = 0
        self.transactions = 0

    def take(self) -> tuple[list[str], int, int]:
        """The counts since the last take, and start again."""
        taken = (self.statements, self.pings, self.transactions)
        self.statements, self.pings, self.transactions = [], 0, 0
        return taken


@contextmanager
def counting(engine):
    """Counts of what the engine does while the block runs."""
    counts = _Counts()

    def statement(conn, cursor, sql, parameters, context, executemany):
        counts.statements.append(_shape(sql))

    dialect = engine.dialect
    do_ping = dialect.do_ping

    def ping(dbapi_connection):
        counts.pings += 1
        return do_ping(dbapi_connection)

    def end(conn):
        # In autocommit mode SQLAlchemy still ends its own transaction, but nothing reaches the
        # server: no BEGIN was sent, and the driver skips the COMMIT or ROLLBACK.
        if not conn.connection.dbapi_connection.autocommit:
            counts.transactions += 1

    listeners = [
        (engine, "before_cursor_execute", statement),
        (engine, "commit", end),
        (engine, "rollback", end),
    ]
    for target, name, function in listeners:
        event.listen(target, name, function)
    dialect.do_ping = ping  # this dialect object only, for the duration of the block
    try:
        yield counts
    finally:
        del dialect.do_ping
        for target, name, function in listeners:
            event.remove(target, name, function)


@contextmanager
def in_process_app(workdir: Path, database_url: str, prepare=None):
    """The real app from `app.create_app()` in this process, on a throwaway PostgreSQL database,
    with the flow inspector off as in production, the demo provider live on 127.0.0.1, and Alice
    signed in through the whole flow: yields the app, a test client with her session, and the
    engine. `prepare(app)` runs before the first request (to add a route, say)."""
    registration = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
        "client_name": "Flask Sign-in Reference App",
        "scope": "openid profile email offline_access",
    }
    workdir.mkdir(parents=True, exist_ok=True)
    with throwaway_database(database_url) as throwaway_url:
        live, server = serve_demo_provider(str(workdir / "demo-provider"), [registration])
        try:
            flask_app = client_app.create_app(
                client_config(
                    workdir,
                    live.issuer,
                    DATABASE_URL=throwaway_url,
                    TESTING=False,
                    FLOW_INSPECTOR_ENABLED=False,
                    # As the deployments have it (site.PRODUCTION_LIKE): no template re-checks.
                    TEMPLATES_AUTO_RELOAD=False,
                )
            )
            if prepare is not None:
                prepare(flask_app)
            with flask_app.app_context():
                # Alembic's logging configuration would print each migration.
                logging.disable(logging.INFO)
                try:
                    upgrade()
                finally:
                    logging.disable(logging.NOTSET)
                engine = db.engine
            try:
                yield flask_app, _signed_in(flask_app, live), engine
            finally:
                engine.dispose()
        finally:
            server.stop()


def run(options: site.Options) -> Result:
    """The counts with production's settings, then with the flow inspector on."""
    views = 20 if options.quick else 100
    with in_process_app(options.workdir / NAME, options.database_url) as signed_in:
        flask_app, client, engine = signed_in
        hot_path = Views(_measure(client, engine, views))
        cpu_ms = _cpu_per_view(client, views * 2)
        # The same views as development serves them, where the inspector is on.
        flask_app.config["FLOW_INSPECTOR_ENABLED"] = True
        inspector.listeners.init_app(flask_app)  # built with it off, the app did not listen
        inspected = Views(_measure(client, engine, views))
    return Result(
        title=TITLE,
        figures=[
            f"SQL statements per view: {hot_path.statements:g} (max {hot_path.worst})",
            f"which: {hot_path.shapes}",
            f"also per view: {hot_path.pings:g} pings of a pooled connection, "
            f"{hot_path.transactions:g} transactions (BEGIN, then COMMIT or ROLLBACK)",
            f"with the flow inspector on (development default): {inspected.statements:g} "
            f"statements ({inspected.shapes}), {inspected.pings:g} pings, "
            f"{inspected.transactions:g} transactions",
            f"CPU per view in process: {cpu_ms:.2f} ms (the machine's speed for this code: "
            "compare runs by it)",
        ],
        goal=f"≤ {GOAL} statements per view (production settings)",
        met=hot_path.worst <= GOAL,
        notes=[
            f"in process (Flask test client), PostgreSQL, live demo provider; {WARMUP_VIEWS}",
            f"warm-up views, then {views} views counted with SQLAlchemy engine events, with the",
            "flow inspector off as in production, then again with it on. CPU per view: this",
            "thread's CPU time (time.thread_time) over as many views again, uncounted; the",
            "provider answers from another thread. On a shared host it moves with the",
            "neighbours' load, and the throughput figures with it.",
        ],
    )


class Views:
    """Counts per view, summed up."""

    def __init__(self, per_view: list[tuple[list[str], int, int]]) -> None:
        count = len(per_view)
        lengths = [len(statements) for statements, _, _ in per_view]
        self.statements = sum(lengths) / count
        self.worst = max(lengths)
        shapes = Counter(shape for statements, _, _ in per_view for shape in statements)
        self.shapes = ", ".join(f"{shape} x{n / count:g}" for shape, n in shapes.items())
        self.pings = sum(pings for _, pings, _ in per_view) / count
        self.transactions = sum(transactions for _, _, transactions in per_view) / count


def _signed_in(flask_app, live):
    """A test client through which Alice signed in."""
    client = flask_app.test_client()
    answer = DemoFlow(client, live).sign_in("alice")
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")
    return client


def _cpu_per_view(client, views: int) -> float:
    """Milliseconds of this thread's CPU per profile view: the app's own work, in process."""
    started = time.thread_time()
    for _ in range(views):
        client.get("/profile")
    return (time.thread_time() - started) * 1000 / views


def _measure(client, engine, views: int) -> list[tuple[list[str], int, int]]:
    """The counts of each profile view, after a few uncounted ones."""
    for _ in range(WARMUP_VIEWS):
        client.get("/profile")
    per_view = []
    with counting(engine) as counts:
        for _ in range(views):
            page = client.get("/profile")
            if site.LIVE_PROFILE_TEXT not in page.get_data(as_text=True):
                raise RuntimeError(f"the profile page is not live: {page.status_code}")
            per_view.append(counts.take())
    return per_view
