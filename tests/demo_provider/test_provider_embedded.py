"""The demo provider mounted in the client app at /demo-provider, as `make run` serves it: what
production requires before it runs there, and the implicit lab switched on only when asked.
"""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

import config
from app import create_app

# A value as `secrets.token_urlsafe(32)` makes it: what a production SECRET_KEY looks like.
PRODUCTION_SECRET_KEY = "q7Vd2-LmX9cR4tYw0ZbK8sNf3HjUe6Ga1PoTi5yBxE"


def production_with_the_demo_provider(tmp_path, **settings):
    return create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": PRODUCTION_SECRET_KEY,
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": "sqlite:///:memory:",
            "BASE_URL": "https://app.example",
            "DEMO_PROVIDER_ENABLED": True,
            "DEMO_CLIENT_SECRET": "demo-client-secret-" + "v" * 20,
            **settings,
        },
        instance_path=str(tmp_path),
    )


def test_production_refuses_the_demo_provider_with_its_published_passwords(tmp_path):
    with pytest.raises(config.ConfigurationError, match="DEMO_PROVIDER_USER_PASSWORDS"):
        production_with_the_demo_provider(tmp_path)
    with pytest.raises(config.ConfigurationError, match=r"Demo provider: .*DEMO_PROVIDER_USER"):
        production_with_the_demo_provider(
            tmp_path, DEMO_PROVIDER_USER_PASSWORDS="alice:wonderland,bob:builder"
        )


def test_production_runs_the_demo_provider_once_its_passwords_are_changed(tmp_path):
    app = production_with_the_demo_provider(
        tmp_path,
        DEMO_PROVIDER_USER_PASSWORDS="alice:a-long-new-password-1,bob:a-long-new-password-2",
    )
    assert "demo" in app.extensions["providers"]
    page = app.test_client().get("/demo-provider/login", base_url="https://app.example")
    assert page.status_code == 200
    assert "wonderland" not in page.get_data(as_text=True)


def test_the_embedded_provider_offers_the_implicit_lab_only_when_asked(tmp_path):
    settings = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
        "DEMO_PROVIDER_EMBEDDED": True,
        "SECRET_KEY": "x" * 32,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DEMO_CLIENT_SECRET": "s" * 32,
    }
    off = create_app(settings, instance_path=str(tmp_path / "off"))
    assert off.test_client().get("/demo-provider/labs/implicit").status_code == 404
    on = create_app(
        {**settings, "DEMO_PROVIDER_LEGACY_IMPLICIT": True}, instance_path=str(tmp_path / "on")
    )
    assert on.test_client().get("/demo-provider/labs/implicit").status_code == 200
