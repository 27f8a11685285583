"""When the demo provider writes its database: on the first request it serves (or `prepare`), and
in the `clients` commands meant to write, never by being built, as the client app builds it for
every `flask ...` command.
"""

import threading
import time

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from demo_provider import create_app, preparation
from demo_provider.extensions import db
from demo_provider.models import Client, User

MOUNT = "/demo-provider"
SERVED_REDIRECT_URI = "http://127.0.0.1:8080/callback/demo"
OTHER_SHELL_REDIRECT_URI = "http://127.0.0.1:5000/callback/demo"


@pytest.fixture
def instance(tmp_path):
    return str(tmp_path / "instance")


def configured(demo_config, redirect_uri):
    """The main client's registration as a shell with this redirect URI would configure it."""
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["redirect_uris"] = [redirect_uri]
    return demo_config


def stored_redirect_uris(app):
    with app.app_context():
        return db.session.get(Client, "workshop-app").redirect_uris


def mounted(app):
    """A client-like app with the provider mounted under /demo-provider, as app.py mounts it."""
    outer = Flask("outer")
    outer.wsgi_app = DispatcherMiddleware(outer.wsgi_app, {MOUNT: app})
    return outer.test_client()


@pytest.fixture
def served(demo_config, instance):
    """A provider that has served a request with the server's own redirect URI."""
    app = create_app(configured(demo_config, SERVED_REDIRECT_URI), instance_path=instance)
    assert app.test_client().get("/").status_code == 200
    return app


def test_building_the_provider_leaves_the_stored_registration_alone(served, demo_config, instance):
    create_app(configured(demo_config, OTHER_SHELL_REDIRECT_URI), instance_path=instance)

    assert stored_redirect_uris(served) == [SERVED_REDIRECT_URI]


def test_first_request_served_applies_the_configured_registration(served, demo_config, instance):
    rebuilt = create_app(configured(demo_config, OTHER_SHELL_REDIRECT_URI), instance_path=instance)

    assert mounted(rebuilt).get(f"{MOUNT}/").status_code == 200

    assert stored_redirect_uris(served) == [OTHER_SHELL_REDIRECT_URI]


def test_building_the_provider_creates_no_database(demo_config, instance, tmp_path):
    app = create_app(demo_config, instance_path=instance)

    assert not (tmp_path / "instance" / "demo-provider.sqlite3").exists()
    app.test_client().get("/")
    assert (tmp_path / "instance" / "demo-provider.sqlite3").exists()


def test_first_request_seeds_the_demo_users_and_registers_the_clients(demo_config, instance):
    app = create_app(demo_config, instance_path=instance)

    app.test_client().get("/.well-known/openid-configuration")

    with app.app_context():
        assert User.find_by_username("alice") is not None
        assert db.session.get(Client, "other-app") is not None


def test_clients_list_leaves_the_stored_registration_alone(served, demo_config, instance):
    other_shell = create_app(
        configured(demo_config, OTHER_SHELL_REDIRECT_URI), instance_path=instance
    )

    result = other_shell.test_cli_runner().invoke(args=["clients", "list"])

    assert result.exit_code == 0, result.output
    assert stored_redirect_uris(served) == [SERVED_REDIRECT_URI]
    # It lists what is stored, and says what this shell's configuration would change.
    listed, pending = result.output.split("In this configuration", 1)
    assert SERVED_REDIRECT_URI in listed
    assert OTHER_SHELL_REDIRECT_URI in pending


def test_clients_list_on_a_fresh_instance_creates_no_tables(demo_config, instance):
    app = create_app(demo_config, instance_path=instance)

    result = app.test_cli_runner().invoke(args=["clients", "list"])

    assert result.exit_code == 0, result.output
    assert "database is not set up yet" in result.output
    assert "workshop-app" in result.output.split("In this configuration", 1)[1]
    with app.app_context():
        assert db.inspect(db.engine).get_table_names() == []


def test_clients_register_stores_only_the_new_client(demo_config, instance):
    app = create_app(demo_config, instance_path=instance)

    result = app.test_cli_runner().invoke(
        args=["clients", "register", "--name", "Attendee", "--redirect-uri", SERVED_REDIRECT_URI]
    )

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert [client.client_name for client in db.session.query(Client)] == ["Attendee"]
        assert db.session.query(User).count() == 0


def test_clients_delete_on_a_fresh_instance_says_there_is_no_such_client(demo_config, instance):
    app = create_app(demo_config, instance_path=instance)

    result = app.test_cli_runner().invoke(args=["clients", "delete", "nobody"])

    assert result.exit_code != 0
    assert "No client is registered" in result.output


def test_concurrent_first_requests_prepare_the_database_once(demo_config, instance, monkeypatch):
    app = create_app(demo_config, instance_path=instance)
    real_write = preparation._write
    calls = []

    def slow_write(app):
        calls.append(threading.get_ident())
        # Long enough for every other thread to arrive while this one is preparing.
        time.sleep(0.2)
        real_write(app)

    monkeypatch.setattr(preparation, "_write", slow_write)
    start = threading.Barrier(6)
    statuses = []

    def first_request():
        start.wait()
        statuses.append(app.test_client().get("/").status_code)

    threads = [threading.Thread(target=first_request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 6
    assert len(calls) == 1


def test_failed_preparation_is_retried_by_the_next_request(demo_config, instance, monkeypatch):
    app = create_app(demo_config, instance_path=instance)
    real_write = preparation._write
    failures = iter([True, True])

    def flaky_write(app):
        if next(failures, False):
            raise OperationalError("CREATE TABLE", {}, Exception("database is locked"))
        real_write(app)

    monkeypatch.setattr(preparation, "_write", flaky_write)

    # One retry at once (a race between processes), then the request fails without detail...
    first = app.test_client().get("/")
    assert first.status_code == 500
    assert "database is locked" not in first.get_data(as_text=True)
    # ...and the next request prepares the database.
    assert app.test_client().get("/").status_code == 200
