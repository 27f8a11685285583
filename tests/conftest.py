"""Fixtures: the client `app`, `client` and `runner` (each on a copy of a database migrated once
per test process); two small fake OpenID providers live on 127.0.0.1 with request recorders, the
"demo" one and a second issuer "corp"; and `flow`, which clicks through a whole sign-in like a
person would. Nothing here needs `demo_provider/`: the end-to-end tests in `e2e/` bring it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import upgrade
from flask_sqlalchemy import SQLAlchemy
from jinja2 import BytecodeCache
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.util import LRUCache
from werkzeug.routing import Rule

from app import create_app
from extensions import db
from oauth import client_keys
from tests.fake_provider import REGISTERED_SCOPE, Client, FakeBrowser, serve_fake_provider
from tests.forms import csrf_token
from tests.live_provider import LiveProvider

CLIENT_ID = "reference-app"
# Characters that RFC 6749 §2.3.1 form-encoding must carry through HTTP Basic intact.
CLIENT_SECRET = "s3cret:with%odd+chars/="
BASE_URL = "http://localhost"
REDIRECT_URI = f"{BASE_URL}/callback/demo"
# This app's client at the second issuer, configured as a generic OpenID Connect provider "corp".
CORP_CLIENT_ID = "corp-app"
# This app at the demo issuer as a client that proves itself with a key (private_key_jwt), and
# that key, fixed for the test session.
KEY_CLIENT_ID = "reference-app-keys"
CLIENT_SIGNING_KEYS = client_keys.generate()
CORP_CLIENT_SECRET = "corp-secret-" + "y" * 20
# The file name `client_config` gives the client's SQLite database in a test's folder.
DATABASE_FILE = "app.sqlite3"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under `pytest -n` (as `make test` runs): the tests of each end-to-end module stay on one
    worker, and all the browser tests on one, because they share fixtures that are expensive to
    start (a PostgreSQL deployment, Chromium and a served app, a fresh copy of the tree); every
    other test is scheduled on its own. Units with the most tests go first, so the long
    end-to-end modules start at once instead of holding up the end of the run.

    xdist's `--dist loadgroup` would do this from `xdist_group` marks, but it renames node ids
    through an attribute that pytest 9 no longer reads, and groups nothing. Another `--dist`
    given on the command line is left to xdist.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class EndToEndModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path.startswith("tests/e2e/browser/"):
                return "tests/e2e/browser/"
            if path.startswith("tests/interop/"):
                return "tests/interop/"
            if path.startswith("tests/e2e/"):
                return path
            return nodeid

    return EndToEndModulesTogether(config, log)


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates kept in memory, keyed by template file and checked against
    its source, for every Flask app the test process builds. Each test builds its own apps, and
    compiling the same templates again for each would cost more than many tests do."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            # Jinja compares the source's checksum and ignores code made from another source.
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(autouse=True, scope="session")
def templates_compiled_once():
    """Every Flask app built in this process shares one `CompiledTemplates` (all of them use
    Flask's default Jinja settings, so the compiled code is the same)."""
    cache = CompiledTemplates()
    create = Flask.create_jinja_environment

    def create_jinja_environment(app):
        environment = create(app)
        environment.bytecode_cache = cache
        return environment

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Flask, "create_jinja_environment", create_jinja_environment)
        yield


class CompiledRoutes:
    """Werkzeug's URL builders kept in memory for every Flask app the test process builds.
    Werkzeug compiles two small Python functions for each route of each app, from the rule's
    parsed parts; with a fresh app (or two) per test, that was a tenth of the suite's time.

    A builder depends only on what the key holds, and takes the rule it serves as its first
    argument, so one compiled builder serves the same route in every app. A rule whose key
    cannot be hashed is compiled as usual."""

    def __init__(self, compile_builder) -> None:
        self.compile_builder = compile_builder
        self.compiled: dict[tuple, object] = {}

    def builder(self, rule: Rule, append_unknown: bool = True):
        try:
            key = (
                rule.rule,
                tuple(rule._trace),
                tuple((name, type(converter)) for name, converter in rule._converters.items()),
                frozenset((rule.defaults or {}).items()),
                append_unknown,
            )
            builder = self.compiled.get(key)
        except TypeError:
            return self.compile_builder(rule, append_unknown)
        if builder is None:
            builder = self.compiled[key] = self.compile_builder(rule, append_unknown)
        return builder


@pytest.fixture(autouse=True, scope="session")
def routes_compiled_once():
    """Every Flask app built in this process shares one `CompiledRoutes`."""
    cache = CompiledRoutes(Rule._compile_builder)

    def compile_builder(rule: Rule, append_unknown: bool = True):
        return cache.builder(rule, append_unknown)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", compile_builder)
        yield


def _sqlite_dialect_identity(dialect) -> tuple:
    return (type(dialect), dialect.paramstyle, dialect.positional)


@pytest.fixture(autouse=True, scope="session")
def statements_compiled_once():
    """SQLAlchemy's compiled SQL shared by every SQLite engine this test process builds.

    SQLAlchemy keeps compiled statements per engine, keyed by the engine's dialect object; each
    test builds its own engines (on its own copy of the database), so each test compiled every
    statement it ran again, a sixth of the suite's time. SQLite dialects built with the same
    settings compile alike: compared by those settings, one cache serves them all.
    """
    shared = LRUCache(4000)
    make_engine = SQLAlchemy._make_engine

    def make_sqlite_engines_share(self, bind_key, options, app):
        if str(options.get("url", "")).startswith("sqlite"):
            options = {**options, "execution_options": {"compiled_cache": shared}}
        return make_engine(self, bind_key, options, app)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLAlchemy, "_make_engine", make_sqlite_engines_share)
        patch.setattr(
            SQLiteDialect_pysqlite,
            "__eq__",
            lambda self, other: (
                isinstance(other, SQLiteDialect_pysqlite)
                and _sqlite_dialect_identity(self) == _sqlite_dialect_identity(other)
            ),
        )
        patch.setattr(
            SQLiteDialect_pysqlite, "__hash__", lambda self: hash(_sqlite_dialect_identity(self))
        )
        yield


def _loggers() -> list[logging.Logger]:
    return [
        logging.root,
        *(
            logger
            for logger in list(logging.root.manager.loggerDict.values())
            if isinstance(logger, logging.Logger)
        ),
    ]


@contextmanager
def logging_as_found() -> Iterator[None]:
    """Give every logger back its level, its `disabled` flag and its handlers as they were (the
    handlers pytest itself manages aside). Without it, one test that turns every library logger
    to DEBUG, or a handler bound to a stream captured for one test (SQLAlchemy's echo, the
    console handler of Alembic's logging configuration) and closed after it, slows down and
    clutters every later test in the process."""
    saved = {
        logger: (logger.level, logger.disabled, list(logger.handlers)) for logger in _loggers()
    }
    try:
        yield
    finally:
        for logger in _loggers():
            if logger not in saved:
                continue
            level, disabled, handlers = saved[logger]
            if logger.level != level:
                # Only when changed: each setLevel() clears every logger's level cache.
                logger.setLevel(level)
            logger.disabled = disabled
            for handler in list(logger.handlers):
                if handler not in handlers and not type(handler).__module__.startswith("_pytest"):
                    logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def logging_left_as_found():
    with logging_as_found():
        yield


@pytest.fixture(scope="session")
def live_provider():
    """The fake provider the client knows as "demo", with this app registered as
    "reference-app"."""
    live, server = serve_fake_provider(
        [
            Client(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                redirect_uris=(REDIRECT_URI,),
                post_logout_redirect_uris=(f"{BASE_URL}/logout/complete",),
                scope=REGISTERED_SCOPE,
            ),
            # The same app authenticating with private_key_jwt: no secret, its public keys.
            Client(
                client_id=KEY_CLIENT_ID,
                client_secret="",
                redirect_uris=(REDIRECT_URI,),
                scope=REGISTERED_SCOPE,
                jwks=client_keys.public_jwks(client_keys.parse(CLIENT_SIGNING_KEYS)),
            ),
        ],
        name="demo",
    )
    yield live
    server.stop()


@pytest.fixture(scope="session")
def live_corp_issuer():
    """A second, independent OpenID provider (its own server, keys and users' subject
    identifiers), which the tests configure as the generic OIDC provider "corp"."""
    live, server = serve_fake_provider(
        [
            Client(
                client_id=CORP_CLIENT_ID,
                client_secret=CORP_CLIENT_SECRET,
                redirect_uris=(f"{BASE_URL}/callback/corp",),
                scope="openid profile email",
            )
        ],
        name="corp",
    )
    yield live
    server.stop()


@pytest.fixture
def corp_issuer(live_corp_issuer):
    """The second issuer with an empty request log and no planted faults."""
    live_corp_issuer.recorder.clear()
    yield live_corp_issuer
    live_corp_issuer.recorder.clear()


@pytest.fixture
def provider(live_provider):
    """The live provider with an empty request log and no planted faults."""
    live_provider.recorder.clear()
    yield live_provider
    live_provider.recorder.clear()


def client_config(tmp_path, issuer: str, **overrides):
    """Client settings pointing at the live provider; an override of None removes that key."""
    settings = {
        "TESTING": True,
        "APP_ENV": "development",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "DATABASE_URL": f"sqlite:///{Path(tmp_path) / DATABASE_FILE}",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BASE_URL": BASE_URL,
        "DEMO_PROVIDER_ENABLED": True,
        "DEMO_PROVIDER_EMBEDDED": False,
        "DEMO_ISSUER": issuer,
        "DEMO_CLIENT_ID": CLIENT_ID,
        "DEMO_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDERS": "",
        **overrides,
    }
    return {key: value for key, value in settings.items() if value is not None}


@pytest.fixture
def corp_env(monkeypatch, corp_issuer):
    """The second issuer switched on as the generic OIDC provider "corp", through the environment
    exactly as a deployment would (OIDC_PROVIDERS and CORP_*). Pair it with app settings
    `{"OIDC_PROVIDERS": None}` so the test defaults do not override the environment."""
    monkeypatch.setenv("OIDC_PROVIDERS", "corp")
    monkeypatch.setenv("CORP_ISSUER", corp_issuer.issuer)
    monkeypatch.setenv("CORP_CLIENT_ID", CORP_CLIENT_ID)
    monkeypatch.setenv("CORP_CLIENT_SECRET", CORP_CLIENT_SECRET)
    monkeypatch.setenv("CORP_TITLE", "Corp SSO")
    return corp_issuer


@pytest.fixture
def app_overrides():
    """Extra client settings for one test module (override this fixture)."""
    return {}


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """An empty client database with every migration applied, made once per test process and
    copied for each test: running Alembic for every test would cost more than most tests do.
    (test_app.py runs the migrations from scratch.)"""
    folder = tmp_path_factory.mktemp("migrated")
    with logging_as_found():
        app = create_app(client_config(folder, "http://127.0.0.1:9"))
        with app.app_context():
            upgrade()
            # Every connection closed, so the file on disk is the whole database.
            db.engine.dispose()
    return folder / DATABASE_FILE


def copy_of_migrated_database(template: Path, folder) -> None:
    """Put a fresh copy of the migrated database where `client_config(folder, ...)` points."""
    shutil.copyfile(template, Path(folder) / DATABASE_FILE)


@pytest.fixture
def app(tmp_path, provider, app_overrides, migrated_database):
    copy_of_migrated_database(migrated_database, tmp_path)
    return create_app(client_config(tmp_path, provider.issuer, **app_overrides))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Flow:
    """A person signing in: the client's pages through the test client, the provider's over HTTP."""

    def __init__(self, client, provider: LiveProvider) -> None:
        self.client = client
        self.provider = provider
        self._browsers: dict[str, object] = {}
        #: The person's browser at the provider (its cookies are that provider's session).
        self.browser = self.browser_for(provider.issuer)

    def new_browser(self, origin: str):
        """A browser at the provider of that origin."""
        return FakeBrowser(origin)

    def browser_for(self, url: str):
        """The browser's view of whichever provider `url` belongs to."""
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        if origin not in self._browsers:
            self._browsers[origin] = self.new_browser(origin)
        return self._browsers[origin]

    def start(self, provider_name: str = "demo", next_url: str | None = None) -> str:
        """Click "Sign in with ..." and return the authorization URL the app redirects to."""
        page = self.client.get("/login" + (f"?next={next_url}" if next_url else ""))
        data = {"csrf_token": csrf_token(page.get_data(as_text=True))}
        if next_url is not None:
            data["next"] = next_url
        response = self.client.post(f"/login/{provider_name}", data=data)
        assert response.status_code == 303, response.get_data(as_text=True)
        return response.headers["Location"]

    def authorize(
        self, url: str, username: str = "alice", decision: str = "Allow", **consent
    ) -> str:
        """Sign in and answer consent at the provider; return the callback URL it sends back.
        `consent` says more about the answer (`granted`: the scopes left ticked)."""
        return self.browser_for(url).authorize(url, username, decision, **consent)

    def sign_in(self, username: str = "alice", next_url: str | None = None):
        """The whole sign-in; returns the client's answer to the callback."""
        callback_url = self.authorize(self.start(next_url=next_url), username)
        return self.client.get(callback_url)


@pytest.fixture
def flow(client, provider):
    return Flow(client, provider)
