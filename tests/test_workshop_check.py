"""The workshop check (`flask --app app doctor --workshop`): one line per check, and for each
thing a laptop gets wrong, a failing line with its fix.
"""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime, timedelta

import pytest

from app import create_app
from ops import workshop
from tests.conftest import client_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def app_overrides(port):
    # The app as `make run PORT=...` configures it: BASE_URL follows the port.
    return {"BASE_URL": None, "PORT": port}


def run(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["doctor", "--workshop"])
    return result.exit_code, result.output


def line(output: str, name: str) -> str:
    return next(text for text in output.splitlines() if text[6:].startswith(name))


def test_a_ready_laptop_passes_every_check(app):
    code, output = run(app)
    assert code == 0, output
    names = ["Python", "virtual environment", "BASE_URL", "port", "database", "demo provider"]
    for name in [*names, "cookies"]:
        assert line(output, name).startswith("ok"), output


def test_an_old_python_is_named_with_its_fix(app, monkeypatch):
    monkeypatch.setattr(workshop, "PYTHON_NEEDED", (99, 0))
    code, output = run(app)
    assert code == 1
    assert line(output, "Python").startswith("FAIL")
    assert "install Python 3.11 or newer" in output


def test_running_outside_a_virtual_environment_is_named(app, monkeypatch):
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    code, output = run(app)
    assert code == 1
    assert line(output, "virtual environment").startswith("FAIL")


def test_a_taken_port_is_named_with_what_to_run(app, port):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        code, output = run(app)
    assert code == 1
    assert line(output, "port").startswith("FAIL")
    assert f"127.0.0.1:{port} is taken" in output
    assert "make run PORT=8080" in output


def test_a_base_url_on_another_port_is_named(tmp_path, provider, port):
    app = create_app(
        client_config(tmp_path, provider.issuer, BASE_URL="http://127.0.0.1:5000", PORT=port)
    )
    code, output = run(app)
    assert code == 1
    assert line(output, "BASE_URL").startswith("FAIL")
    assert "unset BASE_URL" in output


def test_a_database_not_migrated_is_named(tmp_path, provider, port):
    app = create_app(client_config(tmp_path, provider.issuer, BASE_URL=None, PORT=port))
    code, output = run(app)
    assert code == 1
    assert line(output, "database").startswith("FAIL")
    assert "make migrate" in output


def test_an_unreachable_demo_provider_is_named(tmp_path, port):
    app = create_app(client_config(tmp_path, "http://127.0.0.1:9", BASE_URL=None, PORT=port))
    code, output = run(app)
    assert code == 1
    assert "http://127.0.0.1:9/.well-known/openid-configuration cannot be reached" in output


def test_a_clock_far_from_the_providers_is_named(app, monkeypatch):
    # This laptop's clock is an hour fast; the provider's Date header tells the truth.
    monkeypatch.setattr(workshop, "now", lambda: datetime.now(UTC) + timedelta(hours=1))
    code, output = run(app)
    assert code == 1
    assert line(output, "clock").startswith("FAIL")
    assert "automatic date and time" in output


def test_secure_cookies_on_plain_http_are_named(tmp_path, provider, port):
    app = create_app(
        client_config(
            tmp_path, provider.issuer, BASE_URL=None, PORT=port, SESSION_COOKIE_SECURE=True
        )
    )
    code, output = run(app)
    assert code == 1
    assert line(output, "cookies").startswith("FAIL")
