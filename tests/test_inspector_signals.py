"""The inspector hears the flow through signals only: what it draws when the token vault finds a
refresh made meanwhile, what the engine's payloads let a listener touch, and that switched off it
keeps nothing, links nowhere and does not even listen.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g
from flask_migrate import upgrade
from sqlalchemy import func, select

import oauth.signals
from accounts import tokens
from app import create_app
from extensions import db
from inspector import listeners
from inspector.models import FlowStep
from models import LinkedAccount, utcnow
from tests.conftest import Flow, client_config


def test_a_refresh_made_meanwhile_by_another_request_is_shown(flow, app):
    flow.sign_in("alice")
    with app.test_request_context("/profile"):
        link = db.session.scalars(select(LinkedAccount)).one()
        fresh_token = tokens.decrypt(link.access_token_ciphertext)
        # What this request read before another one refreshed the row: a token about to lapse.
        db.session.expunge(link)
        link.access_token_ciphertext = tokens.encrypt("stale")
        link.expires_at = utcnow() - timedelta(seconds=5)

        assert tokens.fresh_access_token(link) == fresh_token
        titles = [step.title for step in g.flow_steps]

    assert titles[0].endswith("s ago: refresh it first")
    assert titles[1:] == ["Another request just refreshed it"]


def test_listeners_get_the_token_response_read_only(flow, app):
    seen = []

    def try_to_change(sender, *, token, **facts):
        seen.append(sender)
        with pytest.raises(TypeError):
            token["access_token"] = "replaced"  # type: ignore[index]

    oauth.signals.token_response_received.connect(try_to_change, sender=app)
    try:
        assert flow.sign_in("alice").status_code == 303
    finally:
        oauth.signals.token_response_received.disconnect(try_to_change)

    assert seen == [app]
    assert "Alice Liddell" in flow.client.get("/profile").get_data(as_text=True)


def test_switched_off_the_inspector_keeps_nothing_and_the_profile_links_nowhere(tmp_path, provider):
    app = create_app(client_config(tmp_path, provider.issuer, FLOW_INSPECTOR_ENABLED=False))
    # Not listening, it spares every view the signals it would only drop and the receivers' runs.
    assert not any(signal.has_receivers_for(app) for signal, _ in listeners.RECEIVERS)
    with app.app_context():
        upgrade()
    flow = Flow(app.test_client(), provider)

    assert flow.sign_in("alice").status_code == 303
    page = flow.client.get("/profile").get_data(as_text=True)

    assert "Alice Liddell" in page
    assert "/inspector" not in page
    assert flow.client.get("/inspector").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FlowStep)) == 0
