"""Getting the provider's database ready to serve: its tables, the demo users, the clients named
in the configuration and the implicit lab's client. Done when the provider serves its first
request (once per process), or on demand with `prepare(app)`; never by merely building the app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from demo_provider import clients, implicit_lab, users
from demo_provider.extensions import db

EXTENSION_KEY = "demo_provider.preparation"


@dataclass
class _State:
    """Whether this app's database has been prepared in this process, and the lock that makes
    it happen once when the first requests arrive together on several threads.
    """

    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def init_app(app: Flask) -> None:
    """Prepare the database before the first request `app` serves."""
    app.extensions[EXTENSION_KEY] = _State()
    # Not in create_app: the client app builds this provider for every `flask ...` command too
    # (doctor included), and a command run from a shell with another BASE_URL would rewrite the
    # registered redirect URIs of the server running elsewhere. Only serving applies them.
    app.before_request(_prepare_current_app)


def prepare(app: Flask) -> None:
    """Create the tables, seed the demo users (with their configured passwords) and register the
    configured clients and the implicit lab's client; at most once per process. For tests and
    tools that use the database before the provider has served a request.
    """
    state: _State = app.extensions[EXTENSION_KEY]
    if state.done:
        return
    with state.lock:
        if state.done:
            return
        with app.app_context():
            try:
                _write(app)
            except SQLAlchemyError:
                # Several processes (gunicorn workers) can prepare the same database at once:
                # the loser of a race on a table or a row fails once, then finds it there.
                db.session.rollback()
                _write(app)
        # Set only after success: a failure (database down) is retried by the next request.
        state.done = True


def create_tables(app: Flask) -> None:
    """Create the tables that do not exist yet, and nothing else (no rows are written)."""
    with app.app_context():
        db.create_all()


def _write(app: Flask) -> None:
    """The preparation itself (app context held)."""
    db.create_all()
    users.seed_demo_users(app.config["DEMO_PROVIDER_USER_PASSWORDS"])
    clients.register(app.config["DEMO_PROVIDER_CLIENTS"])
    implicit_lab.sync_client(app.config)


def _prepare_current_app() -> None:
    """Prepare the app serving this request, if that has not happened in this process yet."""
    prepare(current_app._get_current_object())  # type: ignore[attr-defined]
