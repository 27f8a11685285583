"""The app as deployed: configuration layers, production checks, health, CLI, error pages."""

from __future__ import annotations

import json
import secrets

import pytest
from cryptography.fernet import Fernet

import config
from app import create_app
from ops import doctor

# A value as `secrets.token_urlsafe(32)` makes it: what a production SECRET_KEY looks like.
PRODUCTION_SECRET_KEY = "q7Vd2-LmX9cR4tYw0ZbK8sNf3HjUe6Ga1PoTi5yBxE"


def test_development_secrets_are_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    for name in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DEMO_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = {"DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "DEMO_PROVIDER_EMBEDDED": False}
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(tmp_path))

    first = create_app(settings)
    second = create_app(settings)

    stored = json.loads((tmp_path / config.DEV_SECRETS_FILE).read_text())
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == stored["SECRET_KEY"]
    assert len(stored["SECRET_KEY"]) >= 32
    assert (tmp_path / config.DEV_SECRETS_FILE).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be a random value"),
        ("TOKEN_ENCRYPTION_KEYS", "TOKEN_ENCRYPTION_KEYS must be set"),
        ("DATABASE_URL", "DATABASE_URL must point"),
    ],
)
def test_production_refuses_to_start_without_its_secrets(missing, message):
    settings = {
        "APP_ENV": "production",
        "SECRET_KEY": PRODUCTION_SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": "sqlite:///:memory:",
        "BASE_URL": "https://app.example",
    }
    settings[missing] = None
    with pytest.raises(config.ConfigurationError, match=message):
        create_app(settings)


def test_production_refuses_a_plain_http_base_url():
    with pytest.raises(config.ConfigurationError, match="https://"):
        create_app(
            {
                "APP_ENV": "production",
                "SECRET_KEY": PRODUCTION_SECRET_KEY,
                "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": "sqlite:///:memory:",
                "BASE_URL": "http://app.example",
            }
        )


def test_production_leaves_the_demo_provider_off_and_cookies_secure():
    app = create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": PRODUCTION_SECRET_KEY,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": "sqlite:///:memory:",
            "BASE_URL": "https://app.example",
        }
    )
    assert "demo" not in app.extensions["providers"]
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "Demo Provider" not in app.test_client().get("/login").get_data(as_text=True)


@pytest.mark.parametrize("value", ["Production", " production ", "PRODUCTION"])
def test_app_env_is_trimmed_and_lower_cased(value):
    app = create_app(
        {
            "APP_ENV": value,
            "SECRET_KEY": PRODUCTION_SECRET_KEY,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": "sqlite:///:memory:",
            "BASE_URL": "https://app.example",
        }
    )
    assert app.config["APP_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "demo" not in app.extensions["providers"]
    assert not app.config["FLOW_INSPECTOR_ENABLED"]


@pytest.mark.parametrize("value", ["prod", "staging", "", "production!", "dev"])
def test_an_unknown_app_env_stops_the_app(tmp_path, value):
    with pytest.raises(config.ConfigurationError, match="exactly 'development' or 'production'"):
        create_app({"APP_ENV": value, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})


def test_an_unknown_app_env_in_the_environment_stops_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "Prodution")
    with pytest.raises(config.ConfigurationError, match="'Prodution'"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})


def test_environment_variables_configure_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN_REFRESH_LEEWAY", "120")
    monkeypatch.setenv("DEMO_PROVIDER_ENABLED", "false")
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/a.db",
            "SECRET_KEY": "x" * 32,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DEMO_CLIENT_SECRET": "x",
        }
    )
    assert app.config["TOKEN_REFRESH_LEEWAY"] == 120
    assert app.extensions["providers"] == {}


def test_a_bad_token_encryption_key_is_reported_clearly(tmp_path):
    with pytest.raises(ValueError, match="Fernet keys"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "TOKEN_ENCRYPTION_KEYS": "nope"})


def test_healthz_reports_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unknown_pages_get_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_lax(flow, client):
    flow.start()
    cookie = client.get_cookie("session")
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_providers_command_prints_the_redirect_uri_to_register(runner):
    result = runner.invoke(args=["providers"])
    assert result.exit_code == 0
    assert "http://localhost/callback/demo" in result.output


def _client_address_and_scheme(app) -> dict:
    """What the app takes for the client's address and scheme when a request arrives with
    forwarding headers saying 203.0.113.9 over https."""

    @app.get("/_remote")
    def remote():
        from flask import request

        return {"addr": request.remote_addr, "scheme": request.scheme}

    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    return app.test_client().get("/_remote", headers=headers).get_json()


def test_forwarded_headers_are_ignored_unless_proxies_are_configured(app):
    assert _client_address_and_scheme(app) == {"addr": "127.0.0.1", "scheme": "http"}


def test_forwarded_headers_are_trusted_for_the_configured_hops(tmp_path, provider):
    from tests.conftest import client_config

    app = create_app(client_config(tmp_path, provider.issuer, PROXY_FIX_HOPS=1))
    assert _client_address_and_scheme(app) == {"addr": "203.0.113.9", "scheme": "https"}


@pytest.mark.parametrize("app_overrides", [{}, {"PROXY_FIX_HOPS": 1}])
def test_the_redirect_uri_ignores_forwarded_host_headers(flow, client):
    from tests.forms import csrf_token
    from tests.live_provider import query

    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login/demo",
        data={"csrf_token": csrf_token(page)},
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    assert query(response.headers["Location"])["redirect_uri"] == "http://localhost/callback/demo"


@pytest.mark.parametrize("app_overrides", [{"PROXY_FIX_HOPS": 1}])
def test_forms_work_over_https_although_browsers_send_no_referer(client):
    from tests.forms import csrf_token

    https = {"X-Forwarded-Proto": "https"}
    page = client.get("/login", headers=https).get_data(as_text=True)
    response = client.post("/login/demo", data={"csrf_token": csrf_token(page)}, headers=https)
    assert response.status_code == 303


def test_the_migrations_match_the_models(tmp_path, provider):
    # Every other test gets a copy of a database migrated once: this one migrates an empty one.
    from flask_migrate import check, upgrade

    from tests.conftest import client_config

    app = create_app(client_config(tmp_path, provider.issuer))
    with app.app_context():
        upgrade()
        check()  # raises when a model change has no migration


def test_the_session_migrations_keep_existing_users(tmp_path, provider):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from extensions import db
    from tests.conftest import client_config

    app = create_app(client_config(tmp_path, provider.issuer))
    with app.app_context():
        upgrade(revision="0001")
        db.session.execute(
            text("INSERT INTO users (display_name, created_at) VALUES ('Old', CURRENT_TIMESTAMP)")
        )
        db.session.commit()
        upgrade(revision="0005")
        token = db.session.execute(text("SELECT session_token FROM users")).scalar_one()
        assert len(token) >= 32
        # Sessions become rows: the per-user token goes, the user stays.
        upgrade()
        assert "session_token" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
        assert db.session.execute(text("SELECT display_name FROM users")).scalar_one() == "Old"
        downgrade(revision="0005")
        token = db.session.execute(text("SELECT session_token FROM users")).scalar_one()
        assert len(token) >= 32


PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": PRODUCTION_SECRET_KEY,
    "DATABASE_URL": "sqlite:///:memory:",
    "BASE_URL": "https://app.example",
}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("DEBUG", True, "DEBUG the debugger"),
        ("SESSION_COOKIE_SAMESITE", "Strict", "must be 'Lax'"),
        ("SESSION_COOKIE_SAMESITE", "None", "must be 'Lax'"),
        ("SESSION_COOKIE_SECURE", False, "SESSION_COOKIE_SECURE must be on"),
        ("SECRET_KEY", "changeme", "SECRET_KEY must be a random value"),
        ("SECRET_KEY", "k" * 40, "SECRET_KEY must be a random value"),
        ("SECRET_KEY", "abcd" * 10, "SECRET_KEY must be a random value"),
        ("SECRET_KEY", "ab" * 19 + "abc", "SECRET_KEY must be a random value"),
    ],
)
def test_production_refuses_a_dangerous_setting(setting, value, message):
    settings = {**PRODUCTION, "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    settings[setting] = value
    with pytest.raises(config.ConfigurationError, match=message):
        create_app(settings)


def test_doctor_reports_what_to_fix_and_what_to_register(runner):
    result = runner.invoke(args=["doctor"])
    assert "register http://localhost/callback/demo" in result.output
    assert "SECRET_KEY" in result.output
    assert result.exit_code == 0


def test_doctor_reports_the_security_libraries_installed(runner):
    output = runner.invoke(args=["doctor"]).output
    assert "ok       authlib" in output
    assert "ok       joserfc" in output


@pytest.mark.parametrize(("package", "old"), [("joserfc", "1.6.7"), ("authlib", "1.9.5")])
def test_doctor_fails_on_a_security_library_below_its_floor(runner, monkeypatch, package, old):
    installed = doctor.version
    monkeypatch.setattr(doctor, "version", lambda name: old if name == package else installed(name))
    result = runner.invoke(args=["doctor"])
    assert f"error    {package:<24} {old} has published advisories" in result.output
    assert result.exit_code == 1


def test_doctor_warns_about_a_strict_session_cookie_in_development(tmp_path, provider):
    from tests.conftest import client_config

    app = create_app(client_config(tmp_path, provider.issuer, SESSION_COOKIE_SAMESITE="Strict"))
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert "warning  SESSION_COOKIE_SAMESITE" in result.output


def test_doctor_online_fails_when_a_provider_cannot_be_reached(tmp_path):
    from tests.conftest import client_config

    app = create_app(client_config(tmp_path, "http://127.0.0.1:9", HTTP_CONNECT_TIMEOUT=0.5))
    result = app.test_cli_runner().invoke(args=["doctor", "--online"])
    assert result.exit_code == 1
    assert "discovery_unreachable" in result.output


def _generated() -> dict[str, str]:
    return {"value": secrets.token_hex(16)}


def test_instances_starting_together_share_one_generated_file(tmp_path):
    # As gunicorn workers or instances sharing a folder do: every one reads the same whole file,
    # none a half-written one.
    from concurrent.futures import ProcessPoolExecutor

    path = tmp_path / "client-signing-keys.json"
    with ProcessPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(config._read_or_create_json, [path] * 24, [_generated] * 24))
    assert len({result["value"] for result in results}) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["client-signing-keys.json"]
