"""Pushed authorization requests (RFC 9126): with `<NAME>_PAR` auto and a provider that offers
it, or required, the authorization request goes to the PAR endpoint with client authentication
and the browser carries only `client_id` and `request_uri`; state, nonce, PKCE and the redirect
URI stay as strict as ever; a PAR endpoint that fails, refuses or answers garbage gets a clear
page and stores nothing.
"""

from __future__ import annotations

import pytest

from models import LoginAttempt, User
from tests.conftest import CLIENT_ID, REDIRECT_URI
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import MisbehavingProvider, assert_refused, count


@pytest.fixture
def advertised(provider):
    """The provider's discovery document names its PAR endpoint."""
    MisbehavingProvider(provider).discovery(
        lambda document: {
            **document,
            "pushed_authorization_request_endpoint": provider.issuer + "/par",
        }
    )
    return provider


def start(client):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login/demo", data={"csrf_token": csrf_token(page)})


def test_auto_pushes_the_request_and_the_browser_carries_only_a_handle(
    flow, client, app, advertised
):
    authorization_url = flow.start()

    params = query(authorization_url)
    assert set(params) == {"client_id", "request_uri"}
    assert params["client_id"] == CLIENT_ID
    (pushed,) = advertised.recorder.calls("/par")
    assert pushed.method == "POST"
    assert pushed.authorization.startswith("Basic ")  # this app's client authentication
    form = {name: values[0] for name, values in pushed.form.items()}
    assert form["redirect_uri"] == REDIRECT_URI
    assert form["code_challenge_method"] == "S256"
    assert {"state", "nonce", "code_challenge", "scope"} <= set(form)
    assert "code_verifier" not in form

    answer = client.get(flow.authorize(authorization_url, "alice"))
    assert answer.headers["Location"] == "/profile"
    assert count(app, User) == 1


class TestOff:
    @pytest.fixture
    def app_overrides(self):
        return {"DEMO_PAR": "off"}

    def test_off_keeps_the_request_in_the_address(self, flow, advertised):
        params = query(flow.start())
        assert {"state", "nonce", "code_challenge", "redirect_uri"} <= set(params)
        assert advertised.recorder.calls("/par") == []


class TestRequired:
    @pytest.fixture
    def app_overrides(self):
        return {"DEMO_PAR": "required"}

    def test_required_without_an_endpoint_says_so_and_stores_nothing(self, client, app):
        answer = start(client)
        text = answer.get_data(as_text=True)
        assert answer.status_code >= 400
        assert "does not offer pushed authorization requests" in text
        assert count(app, LoginAttempt) == 0

    def test_required_with_an_endpoint_signs_in(self, flow, client, app, advertised):
        assert client.get(flow.authorize(flow.start(), "alice")).status_code == 303
        assert count(app, User) == 1


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, "<h1>Internal Server Error</h1>", "par_http_500"),
        (200, "not json at all", "par_malformed"),
        (201, {"expires_in": 60}, "par_malformed"),
        (401, {"error": "invalid_client"}, "par_refused_invalid_client"),
        (400, {"error": "invalid_request"}, "par_refused_invalid_request"),
    ],
    ids=["500", "not-json", "no-request-uri", "invalid-client", "invalid-request"],
)
def test_a_par_endpoint_that_fails_gets_a_clear_page_and_stores_nothing(
    client, app, advertised, status, body, reason
):
    advertised.recorder.fail("/par", status, body)
    answer = start(client)
    assert_refused(answer, answer.status_code, reason)
    assert answer.status_code in (400, 502, 503)
    assert count(app, LoginAttempt) == 0
