"""Logs: structured security events with reason codes, and no secret in any line even with every
library logger at DEBUG."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from accounts import tokens
from extensions import db
from models import LinkedAccount
from ops import log_safety
from tests.conftest import CLIENT_SECRET, CORP_CLIENT_SECRET
from tests.forms import csrf_token
from tests.live_provider import query


def events(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "security"]


def test_request_lines_with_a_code_are_redacted():
    line = '"GET /callback/demo?code=4%2Fabc123&state=xyz&iss=http%3A%2F%2Fp HTTP/1.1" 303 -'
    redacted = log_safety.redact(line)
    assert "abc123" not in redacted
    assert "xyz" not in redacted
    assert "code=[redacted]" in redacted


def test_secrets_inside_an_encoded_url_are_redacted():
    line = "GET /demo-provider/login?next=/authorize%3Fstate%3Dsecretstate%26nonce%3Dsecretnonce"
    redacted = log_safety.redact(line)
    assert "secretstate" not in redacted
    assert "secretnonce" not in redacted


@pytest.mark.parametrize(
    "message",
    [
        "Issue token {'access_token': 'AT-SECRET', 'refresh_token': 'RT-SECRET'} to client",
        '{"access_token": "AT-SECRET", "token_type": "Bearer"}',
        "Authorization: Bearer AT-SECRET",
        "grant_type=refresh_token&refresh_token=RT-SECRET",
        "id_token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.AT-SECRET-SIG",
    ],
)
def test_token_values_in_library_messages_are_redacted(message):
    assert "SECRET" not in log_safety.redact(message)


def test_a_line_break_in_a_message_cannot_forge_a_log_line(caplog, app):
    caplog.set_level(logging.INFO)
    logging.getLogger("any.library").warning("user said %s", "hi\n2026-01-01 INFO admin signed in")
    (record,) = [r for r in caplog.records if r.name == "any.library"]
    assert "\n" not in record.getMessage()
    assert "\\n2026-01-01" in record.getMessage()


def test_an_unhandled_error_is_logged_masked_and_cannot_forge_a_security_event(app, caplog):
    forged = json.dumps({"event": "sign_in", "outcome": "ok", "user_id": 1})

    @app.get("/fails")
    def fails():
        raise ValueError(f"provider answered refresh_token=abc\n{forged}")

    caplog.set_level(logging.ERROR)
    assert app.test_client().get("/fails").status_code == 500
    assert "Traceback (most recent call last):" in caplog.text
    assert "refresh_token=abc" not in caplog.text
    assert "ValueError: provider answered refresh_token=[redacted]" in caplog.text
    assert not [line for line in caplog.text.splitlines() if line.startswith("{")]


def test_sign_in_and_refusals_are_security_events_with_reasons(flow, caplog):
    caplog.set_level(logging.INFO, logger="security")
    flow.sign_in("alice")
    flow.client.get("/callback/demo?state=forged&code=x")

    logged = events(caplog)
    sign_in = next(e for e in logged if e["event"] == "sign_in" and e["outcome"] == "ok")
    assert sign_in["provider"] == "demo"
    assert sign_in["user_id"] == 1
    assert sign_in["request_id"]
    refused = next(e for e in logged if e["event"] == "sign_in" and e["outcome"] == "rejected")
    assert refused["reason"] == "state_unknown"


def test_a_refresh_is_a_security_event(flow, app, client, caplog):
    flow.sign_in("alice")
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        tokens.mark_reconnect_needed(link)
    caplog.set_level(logging.INFO, logger="security")
    client.get("/profile")
    # A link already marked needs no refresh attempt: nothing is logged as refreshed.
    assert not [e for e in events(caplog) if e["event"] == "refresh" and e["outcome"] == "ok"]


@pytest.fixture(autouse=True)
def app_overrides(corp_env):
    # "corp" comes from the environment: drop the test default that would override it.
    return {"OIDC_PROVIDERS": None}


def test_no_secret_reaches_any_log_with_every_logger_at_debug(
    flow, client, app, provider, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    for name in ("authlib", "urllib3", "requests", "werkzeug", "sqlalchemy", "app", "security"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    secrets: set[str] = {CLIENT_SECRET, CORP_CLIENT_SECRET}

    authorization_url = flow.start()
    callback_url = flow.authorize(authorization_url)
    secrets |= {query(callback_url)["code"], query(authorization_url)["state"]}
    secrets.add(query(authorization_url)["nonce"])
    client.get(callback_url)
    secrets.add(client.get_cookie("session").value)
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        secrets |= {
            tokens.decrypt(link.access_token_ciphertext),
            tokens.decrypt(link.refresh_token_ciphertext),
        }
        secrets.add(tokens.decrypt(link.id_token_ciphertext))
        link.expires_at = link.created_at  # long past: the next profile view refreshes
        db.session.commit()
    client.get("/profile")
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        secrets |= {
            tokens.decrypt(link.access_token_ciphertext),
            tokens.decrypt(link.refresh_token_ciphertext),
        }
    page = client.get("/profile").get_data(as_text=True)
    linked = client.post("/profile/link/corp", data={"csrf_token": csrf_token(page)})
    assert linked.status_code == 303, linked.get_data(as_text=True)[-1500:]
    client.get(flow.authorize(linked.headers["Location"]))
    page = client.get("/profile").get_data(as_text=True)
    client.post("/profile/unlink/demo", data={"csrf_token": csrf_token(page)})
    secrets |= {
        r.form["code_verifier"][0]
        for r in provider.recorder.calls("/token")
        if "code_verifier" in r.form
    }

    captured = caplog.text + "".join(capfd.readouterr())
    assert "token" in caplog.text  # the loggers did run at DEBUG
    leaked = sorted(s for s in secrets if s and s in captured)
    assert leaked == []


@pytest.mark.parametrize("app_overrides", [{"SQLALCHEMY_ECHO": True, "OIDC_PROVIDERS": None}])
def test_sql_echo_shows_statements_but_never_their_parameters(capfd, flow, client):
    # capfd first: the echo handler binds to the stdout of when the app is built.
    authorization_url = flow.start()
    client.get(flow.authorize(authorization_url))
    written = "".join(capfd.readouterr())

    assert "INSERT INTO login_attempts" in written  # the echo is on
    assert query(authorization_url)["nonce"] not in written
    assert query(authorization_url)["state"] not in written
