"""The demo provider's own Flask extensions, created unbound: its database and its CSRF guard;
and how its SQLite database is opened.

They are separate objects from the client's, so the two apps never share a session or a table.
"""

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for the demo provider's tables only."""


# A commit leaves what the request loaded as it was (SQLAlchemy would mark it stale and read it
# again on next use). Each request has a session of its own, ended with it, so nothing stays
# stale for long; and every DPoP-bound API call commits the proof's jti in the middle of the
# request, after which the token it had just read was read again.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
csrf = CSRFProtect()


def tune_sqlite(app: Flask) -> None:
    """On SQLite (the default), write-ahead logging: every token, code and DPoP proof id is a
    write, and in the default rollback-journal mode each commit waits for the disk and locks out
    readers, so concurrent requests queue behind each other's commits. With WAL, readers never
    wait and a commit is an append (synchronous=NORMAL: safe against crashes of the process,
    which is all a demo's database needs).
    """
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def write_ahead(connection, record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
