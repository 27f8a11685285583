"""The flow inspector: each step of this browser's sign-in, refreshes and API calls, redacted."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from accounts import tokens
from extensions import db
from inspector import flow_trace
from inspector.models import FlowStep
from models import LinkedAccount, UserSession, utcnow
from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, Flow, client_config
from tests.fake_provider import FULL_SCOPE
from tests.feature_pages import press_allow
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import MisbehavingProvider
from tests.test_backchannel_logout import deliver, logout_token


def inspector(client) -> str:
    response = client.get("/inspector")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_inspector_shows_every_step_of_the_sign_in(flow, client):
    authorization_url = flow.start()
    params = query(authorization_url)
    client.get(flow.authorize(authorization_url))
    page = inspector(client)

    for role in ("Resource owner", "Client", "Authorization server", "Resource server"):
        assert role in page
    # The authorization request, as sent.
    for value in (
        CLIENT_ID,
        REDIRECT_URI,
        digest(params["state"]),
        digest(params["nonce"]),
        params["code_challenge"],
    ):
        assert value in page
    assert "S256" in page
    # The token request and response.
    assert "authorization_code" in page
    assert "client_secret_basic" in page
    assert "sent (redacted)" in page
    assert "Bearer" in page
    # The ID token's checks and the API call.
    assert "RS256" in page
    for check in ("check signature", "check iss", "check aud", "check exp", "check nonce"):
        assert check in page
    assert "GET " + flow.provider.issuer + "/userinfo" in page
    assert "200 OK" in page


def test_the_inspector_never_shows_a_secret(flow, client, app, provider):
    authorization_url = flow.start()
    callback_url = flow.authorize(authorization_url)
    client.get(callback_url)
    client.get("/profile")
    page = inspector(client)

    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        secrets = [
            tokens.decrypt(link.access_token_ciphertext),
            tokens.decrypt(link.refresh_token_ciphertext),
            tokens.decrypt(link.id_token_ciphertext),
        ]
    secrets.append(query(callback_url)["code"])
    secrets.append(
        provider.recorder.token_requests("authorization_code")[0].form["code_verifier"][0]
    )
    assert [secret for secret in secrets if secret in page] == []


def test_a_refresh_shows_up_with_its_reason(flow, client, app):
    flow.sign_in("alice")
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        link.expires_at = utcnow() + timedelta(seconds=10)
        db.session.commit()
    client.get("/profile")
    page = inspector(client)
    assert "refresh it first" in page
    assert "refresh_token" in page
    assert "a new one (rotation)" in page


def test_each_browser_sees_only_its_own_flow(flow, app):
    flow.sign_in("alice")
    assert "Nothing recorded yet" in inspector(app.test_client())


def test_the_inspector_is_off_in_production(tmp_path, provider):
    from app import create_app

    app = create_app(
        client_config(
            tmp_path, provider.issuer, APP_ENV="production", BASE_URL="https://app.example"
        )
    )
    assert app.test_client().get("https://app.example/inspector").status_code == 404


def test_the_profile_links_to_the_inspector(flow, client):
    flow.sign_in("alice")
    assert 'href="/inspector"' in client.get("/profile").get_data(as_text=True)


def sign_out(client):
    page = client.get("/profile").get_data(as_text=True)
    return client.post("/logout", data={"csrf_token": csrf_token(page)})


def delete_account(client):
    page = client.get("/profile").get_data(as_text=True)
    return client.post("/profile/delete", data={"csrf_token": csrf_token(page), "confirm": "yes"})


def stored_steps(app) -> list[str]:
    """Every recorded step as the database holds it, one string per row."""
    with app.app_context():
        return [
            " ".join(str(value) for value in row)
            for row in db.session.execute(
                select(FlowStep.title, FlowStep.details, FlowStep.note)
            ).all()
        ]


def digest(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:8]


def test_the_trace_rides_in_the_session_through_its_renewal_at_sign_in(flow, client):
    flow.sign_in("alice")
    page = inspector(client)
    assert "POST /login/demo" in page
    assert "ID token verified" in page
    assert "signed in as" in page
    assert client.get_cookie("flow_trace") is None


def test_after_sign_out_the_inspector_shows_nothing_of_the_previous_person(flow, client, app):
    flow.sign_in("alice")
    with app.app_context():
        subject = db.session.scalars(select(LinkedAccount.subject)).one()
    assert subject in inspector(client)

    sign_out(client)
    page = inspector(client)

    for trace in ("Alice Liddell", "alice@example.org", subject, "ID token verified"):
        assert trace not in page
    assert "Nothing recorded yet" in page
    assert stored_steps(app) == []


def test_signing_out_clears_this_browsers_trace_and_leaves_the_others(flow, app, provider):
    other_browser = Flow(app.test_client(), provider)
    other_browser.sign_in("alice")
    flow.sign_in("alice")
    before = len(stored_steps(app))

    sign_out(flow.client)

    assert "Nothing recorded yet" in inspector(flow.client)
    # The other browser is still signed in, with the trace of its own sign-in.
    assert "Alice Liddell" in inspector(other_browser.client)
    assert 0 < len(stored_steps(app)) < before


def test_deleting_the_account_deletes_its_trace_in_every_browser(flow, app, provider):
    other_browser = Flow(app.test_client(), provider)
    other_browser.sign_in("alice")
    flow.sign_in("alice")

    assert delete_account(flow.client).status_code == 303

    assert stored_steps(app) == []
    assert "Nothing recorded yet" in inspector(flow.client)


def test_the_database_never_holds_a_raw_secret_of_the_sign_in(flow, client, app, provider):
    authorization_url = flow.start()
    params = query(authorization_url)
    callback_url = flow.authorize(authorization_url)
    client.get(callback_url)
    client.get("/profile")

    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        secrets = [
            tokens.decrypt(link.access_token_ciphertext),
            tokens.decrypt(link.refresh_token_ciphertext),
            tokens.decrypt(link.id_token_ciphertext),
        ]
    secrets += [
        params["state"],
        params["nonce"],
        query(callback_url)["code"],
        provider.recorder.token_requests("authorization_code")[0].form["code_verifier"][0],
        CLIENT_SECRET,
    ]
    rows = stored_steps(app)
    assert rows
    assert [secret for secret in secrets if any(secret in row for row in rows)] == []


def test_state_and_nonce_are_shown_as_a_digest_prefix(flow, client):
    authorization_url = flow.start()
    params = query(authorization_url)
    client.get(flow.authorize(authorization_url))
    page = inspector(client)

    assert digest(params["state"]) in page
    # The nonce sent in the request and the one the ID token carried back: the same digest.
    assert page.count(digest(params["nonce"])) == 2


def test_the_inspector_is_never_cached(flow, client):
    assert client.get("/inspector").headers.get("Cache-Control") == "no-store"
    flow.sign_in("alice")
    assert client.get("/inspector").headers.get("Cache-Control") == "no-store"


def add_trace(trace_id: str, *ages: timedelta) -> None:
    now = utcnow()
    db.session.add_all(
        FlowStep(
            trace_id=trace_id,
            created_at=now - age,
            sender=flow_trace.CLIENT,
            receiver=flow_trace.CLIENT,
            title="step",
        )
        for age in ages
    )
    db.session.commit()


def test_purge_removes_idle_traces_and_keeps_recent_ones(app, runner):
    with app.app_context():
        add_trace("idle", timedelta(hours=30), timedelta(hours=25))
        add_trace("active", timedelta(hours=30), timedelta(minutes=5))
        add_trace("recent", timedelta(minutes=1))

    result = runner.invoke(args=["inspector", "purge", "--older-than-hours", "24"])

    assert result.exit_code == 0
    assert "removed 1 inspector traces (2 steps) idle for over 24 hours" in result.output
    with app.app_context():
        kept = db.session.scalars(select(FlowStep.trace_id).order_by(FlowStep.id)).all()
    assert kept == ["active", "active", "recent"]


def test_a_trace_keeps_only_its_latest_steps(flow, client, app):
    flow.sign_in("alice")
    for _ in range(flow_trace.MAX_STEPS // 3 + 1):
        client.get("/profile")
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(FlowStep))
        titles = db.session.scalars(select(FlowStep.title)).all()
    assert count == flow_trace.MAX_STEPS
    assert "POST /login/demo" not in titles


def test_secrets_are_redacted_by_name_whatever_a_call_site_passes():
    assert flow_trace.shown("client_secret", CLIENT_SECRET) == "sent (redacted)"
    assert flow_trace.shown("password", "wonderland") == "sent (redacted)"
    assert flow_trace.shown("id_token_hint", "a.b.c") == "sent (redacted)"
    assert flow_trace.shown("claim nonce", "n-123") == digest("n-123") + "…"
    assert flow_trace.shown("state", "matches a sign-in this browser started") == (
        "matches a sign-in this browser started"
    )
    url = flow_trace.shown("Location", "https://p.example/end?id_token_hint=a.b.c&state=s%2B1&x=1")
    assert url == f"https://p.example/end?id_token_hint=(redacted)&state={digest('s+1')}…&x=1"


def test_a_logout_token_from_the_provider_shows_in_the_trace_of_the_session_it_ended(
    flow, app, provider
):
    flow.sign_in("alice")
    with app.app_context():
        sid = db.session.execute(select(UserSession.sid)).scalar_one()
    token = logout_token(provider, sid=sid)
    assert deliver(app.test_client(), token).status_code == 200

    flow.client.get("/profile")  # signed out, and told why
    text = inspector(flow.client)

    assert "POST /backchannel-logout/demo" in text
    assert "holds the back-channel logout event" in text
    assert sid in text
    assert "Session ended by Demo Provider" in text
    # The token itself is never kept: only its claims and the checks it passed.
    assert token not in text
    assert token.split(".")[2] not in text


def test_the_inspector_shows_each_proof_and_never_the_proof_itself(flow, client, app, provider):
    MisbehavingProvider(provider).discovery(
        lambda document: {**document, "dpop_signing_alg_values_supported": ["ES256"]}
    )
    flow.sign_in("alice")
    client.get("/profile")
    text = client.get("/inspector").get_data(as_text=True)
    assert "DPoP proof signed (RFC 9449)" in text
    assert "dpop+jwt" in text
    (api_call,) = provider.recorder.calls("/api/profile")
    # Neither the proof (replayable while fresh) nor its signature is kept.
    assert api_call.dpop not in text
    assert api_call.dpop.split(".")[2] not in text


def test_the_inspector_shows_the_incremental_request_and_the_scopes_before_and_after(flow, client):
    flow.sign_in("alice")
    client.get(flow.authorize(press_allow(client)))
    page = client.get("/inspector").get_data(as_text=True)
    assert "Allow at Demo Provider" in page
    assert "Incremental authorization" in page
    assert "Scopes granted: recorded for the link" in page
    # Before: the sign-in's scopes; after: the same plus contacts.read, which was added.
    assert f"<dt>before</dt><dd><code>{FULL_SCOPE}</code></dd>" in page
    assert f"<dt>after</dt><dd><code>{FULL_SCOPE} contacts.read</code></dd>" in page
    assert "<dt>added</dt><dd><code>contacts.read</code></dd>" in page
