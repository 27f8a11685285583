"""What every peer app has that is the benchmark's, not its library's: settings read from the
deployment's environment, a user table with Flask-Login (which each library's documentation
takes for granted), tables created once however many workers start, `/healthz` for the
deployment's start-up check, and the page that shows the profile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask, render_template_string
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import select, text

# The same database pool per worker as the app's (DATABASE_POOL_SIZE in config.py). With
# Flask-SQLAlchemy's default of 5, a worker's sixth to eighth busy thread would open and close a
# PostgreSQL connection per request: a cost of the pool, not of the OAuth library compared.
DATABASE_POOL_SIZE = 10
# The key of the PostgreSQL lock under which the first worker to start creates the tables.
TABLES_LOCK = 7_340_001
# "Connected" and the person's location are what bench/site.py's `outcome` looks for.
PROFILE_PAGE = """<!doctype html>
<title>Profile</title>
<p>Connected to Demo Provider as {{ profile.name }} ({{ profile.username }})</p>
<p>{{ profile.bio }} · {{ profile.location }}</p>
"""

db = SQLAlchemy()
login_manager = LoginManager()


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    # Who the person is at the provider: its subject identifier, never the e-mail address.
    subject = db.Column(db.String(255), unique=True, nullable=False)
    name = db.Column(db.String(255))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def new_app(import_name: str, settings: Mapping[str, str] | None = None) -> Flask:
    """A Flask app with the deployment's secret key, database and demo provider client, read from
    the environment as gunicorn starts it (or from `settings`)."""
    settings = os.environ if settings is None else settings
    app = Flask(import_name)
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": DATABASE_POOL_SIZE},
        DEMO_ISSUER=settings["DEMO_ISSUER"],
        DEMO_CLIENT_ID=settings["DEMO_CLIENT_ID"],
        DEMO_CLIENT_SECRET=settings["DEMO_CLIENT_SECRET"],
    )
    db.init_app(app)
    login_manager.init_app(app)
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    return app


def create_tables(app: Flask, *models: type[db.Model]) -> None:
    """Create the users table and the tables of `models` where missing. Every worker of both
    instances starts at once: the first takes the lock and creates them, the others find them."""
    tables = [User.__table__, *(model.__table__ for model in models)]
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TABLES_LOCK})
        db.metadata.create_all(connection, tables=tables)


def sign_in(subject: str, name: str | None) -> User:
    """The person the provider vouched for, a user here from their first sign-in on, signed in."""
    user = db.session.scalar(select(User).filter_by(subject=subject))
    if user is None:
        user = User(subject=subject, name=name)
        db.session.add(user)
        db.session.commit()
    login_user(user)
    return user


def profile_page(profile: Mapping) -> str:
    """The profile the provider's API returned, as a page."""
    return render_template_string(PROFILE_PAGE, profile=profile)
