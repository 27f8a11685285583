"""Pushed authorization requests (RFC 9126) at the demo provider: the client pushes its request
to /par with its credentials, gets a one-time request_uri, and the browser brings only client_id
and that reference to /authorize. Misuse of the endpoint and of the reference is refused."""

import pytest

from demo_provider import par
from demo_provider.extensions import db

PREFIX = "urn:ietf:params:oauth:request_uri:"
TOKEN_URL = "http://127.0.0.1:5001/token"
PAR_URL = "http://127.0.0.1:5001/par"


def pushed(flow, **overrides):
    """Push a valid request for the main client; returns (request_uri, verifier, params)."""
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge, **overrides)
    response = flow.push(params)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["request_uri"], verifier, params


def by_reference(request_uri, client_id="workshop-app"):
    return {"client_id": client_id, "request_uri": request_uri}


def test_a_pushed_request_gets_a_one_time_request_uri(flow):
    response = flow.push(flow.authorize_params())

    body = response.get_json()
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert body["request_uri"].startswith(PREFIX)
    assert len(body["request_uri"]) > len(PREFIX) + 40
    assert body["expires_in"] == 60


def test_a_pushed_request_leads_to_a_code_and_tokens(flow):
    request_uri, verifier, params = pushed(flow)
    flow.sign_in()

    answer = flow.decide(by_reference(request_uri))

    location = answer.headers["Location"]
    assert location.startswith(flow.redirect_uri + "?")
    query = flow.query(location)
    assert query["state"] == params["state"]
    assert query["iss"] == flow.issuer
    tokens = flow.redeem(query["code"], verifier)
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    assert tokens.get_json()["scope"] == flow.full_scope


def test_the_consent_form_carries_only_the_reference(flow):
    request_uri, _, params = pushed(flow)
    flow.sign_in()

    form = flow.consent_form(by_reference(request_uri))

    fields = dict(form["fields"])
    assert fields["request_uri"] == request_uri
    assert "code_challenge" not in fields
    assert "state" not in fields
    assert params["nonce"] not in str(form)


def test_parameters_beside_the_request_uri_are_ignored(flow):
    request_uri, verifier, params = pushed(flow, scope="openid")
    flow.sign_in()
    smuggled = {
        **by_reference(request_uri),
        "scope": flow.full_scope,
        "redirect_uri": "https://evil.example/cb",
        "state": "attacker",
    }

    answer = flow.decide(smuggled)

    query = flow.query(answer.headers["Location"])
    assert answer.headers["Location"].startswith(flow.redirect_uri + "?")
    assert query["state"] == params["state"]
    assert flow.redeem(query["code"], verifier).get_json()["scope"] == "openid"


def test_a_person_who_signs_in_slowly_can_still_decide(flow, monkeypatch):
    request_uri, _, _ = pushed(flow)
    # Opened in time: the browser arrives, the person is sent to sign in...
    assert flow.client.get("/authorize", query_string=by_reference(request_uri)).status_code == 303
    later = par.epoch_now() + 2 * par.LIFETIME
    monkeypatch.setattr(par, "epoch_now", lambda: later)
    # ...and takes longer than the request_uri's lifetime to do it.
    flow.sign_in()

    answer = flow.decide(by_reference(request_uri))

    assert "code" in flow.query(answer.headers["Location"])


def test_a_pushed_prompt_login_asks_for_a_sign_in_once(flow, monkeypatch):
    flow.sign_in()
    with flow.client.session_transaction() as session:
        session["auth_time"] -= 10
    request_uri, _, _ = pushed(flow, prompt="login")
    # The browser brings the request a few seconds before the person signs in again.
    earlier = par.epoch_now() - 5
    with monkeypatch.context() as clock:
        clock.setattr(par, "epoch_now", lambda: earlier)
        first = flow.client.get("/authorize", query_string=by_reference(request_uri))

    flow.sign_in()
    second = flow.client.get("/authorize", query_string=by_reference(request_uri))

    assert first.status_code == 303
    assert "/login" in first.headers["Location"]
    assert second.status_code == 200
    assert "Workshop App" in second.get_data(as_text=True)


def test_a_pushed_prompt_none_is_answered_at_once(flow):
    request_uri, _, params = pushed(flow, prompt="none")

    answer = flow.client.get("/authorize", query_string=by_reference(request_uri))

    query = flow.query(answer.headers["Location"])
    assert query["error"] == "login_required"
    assert query["state"] == params["state"]


def test_client_secret_post_works_at_the_par_endpoint(flow):
    data = {**flow.authorize_params(), "client_secret": flow.client_secret}

    response = flow.client.post("/par", data=data)

    assert response.status_code == 201, response.get_data(as_text=True)


def test_a_public_client_pushes_with_its_client_id(flow, register_client):
    public = register_client("--public")
    data = flow.authorize_params(
        client_id=public.client_id, redirect_uri="http://127.0.0.1:8000/callback"
    )

    response = flow.client.post("/par", data=data)

    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic d29ya3Nob3AtYXBwOndyb25n"}],
    ids=["none", "wrong-secret"],
)
def test_the_par_endpoint_authenticates_the_client(flow, headers):
    response = flow.client.post("/par", data=flow.authorize_params(), headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert "request_uri" not in response.get_json()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"nonce": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"dpop_jkt": "short"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ],
    ids=[
        "no-pkce",
        "plain-pkce",
        "unregistered-redirect",
        "no-redirect",
        "unknown-scope",
        "no-nonce",
        "implicit",
        "bad-dpop-jkt",
        "request-object",
    ],
)
def test_the_par_endpoint_validates_like_the_authorization_endpoint(flow, overrides, error):
    response = flow.push(flow.authorize_params(**overrides))

    assert response.status_code == 400
    assert response.get_json()["error"] == error
    assert "Location" not in response.headers
    assert "state" not in response.get_json()


def test_a_request_uri_inside_a_pushed_request_is_refused(flow):
    params = flow.authorize_params(request_uri=PREFIX + "nested")

    response = flow.push(params)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_the_client_id_in_a_push_must_be_the_authenticated_client(flow):
    params = flow.authorize_params(client_id=flow.other_client_id)

    response = flow.push(params)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_a_push_may_leave_out_the_client_id(flow):
    params = flow.authorize_params(client_id=None)

    assert flow.push(params).status_code == 201


def assert_refused_without_redirect(response):
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_request_uri" in response.get_data(as_text=True)


def test_a_used_request_uri_is_refused(flow):
    request_uri, _, _ = pushed(flow)
    flow.sign_in()
    flow.decide(by_reference(request_uri))

    again = flow.client.get("/authorize", query_string=by_reference(request_uri))
    decided_again = flow.client.post(
        "/authorize", data={**by_reference(request_uri), "decision": "allow"}
    )

    assert_refused_without_redirect(again)
    assert decided_again.status_code == 400
    assert "Location" not in decided_again.headers


def test_an_expired_request_uri_is_refused(flow, monkeypatch):
    request_uri, _, _ = pushed(flow)
    flow.sign_in()
    later = par.epoch_now() + par.LIFETIME + 1
    monkeypatch.setattr(par, "epoch_now", lambda: later)

    response = flow.client.get("/authorize", query_string=by_reference(request_uri))

    assert_refused_without_redirect(response)


def test_a_request_uri_of_another_client_is_refused(flow):
    request_uri, _, _ = pushed(flow)
    flow.sign_in()

    response = flow.client.get(
        "/authorize", query_string=by_reference(request_uri, client_id=flow.other_client_id)
    )

    assert_refused_without_redirect(response)


def test_an_unknown_request_uri_is_refused(flow):
    flow.sign_in()

    response = flow.client.get("/authorize", query_string=by_reference(PREFIX + "made-up"))

    assert_refused_without_redirect(response)


def test_the_request_uri_is_stored_only_as_a_digest(flow):
    request_uri, _, _ = pushed(flow)

    with flow.client.application.app_context():
        rows = db.session.execute(
            db.text("SELECT request_uri_hash FROM demo_provider_pushed_authorization_request")
        ).all()
    assert rows
    assert all(request_uri.removeprefix(PREFIX) not in row[0] for row in rows)


def test_discovery_advertises_the_par_endpoint(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["pushed_authorization_request_endpoint"] == PAR_URL
    assert metadata["require_pushed_authorization_requests"] is False


class TestRequired:
    @pytest.fixture
    def flow(self, provider_configured):
        return provider_configured(DEMO_PROVIDER_REQUIRE_PAR=True)

    def test_a_plain_authorization_request_is_refused(self, flow):
        flow.sign_in()
        params = flow.authorize_params()

        response = flow.client.get("/authorize", query_string=params)

        query = flow.query(response.headers["Location"])
        assert response.headers["Location"].startswith(flow.redirect_uri + "?")
        assert query["error"] == "invalid_request"
        assert query["state"] == params["state"]
        assert "code" not in query

    def test_a_plain_request_with_an_unverified_redirect_gets_the_error_page(self, flow):
        params = flow.authorize_params(redirect_uri="https://evil.example/cb")

        response = flow.client.get("/authorize", query_string=params)

        assert response.status_code == 400
        assert "Location" not in response.headers

    def test_a_pushed_request_still_works(self, flow):
        request_uri, verifier, _ = pushed(flow)
        flow.sign_in()

        code = flow.query(flow.decide(by_reference(request_uri)).headers["Location"])["code"]

        assert flow.redeem(code, verifier).status_code == 200

    def test_discovery_says_par_is_required(self, flow):
        metadata = flow.client.get("/.well-known/openid-configuration").get_json()

        assert metadata["require_pushed_authorization_requests"] is True


def test_a_dpop_proof_at_the_par_endpoint_binds_the_code(flow, client_key):
    verifier, challenge = flow.pkce_pair()
    response = flow.push(flow.authorize_params(challenge), dpop=client_key.proof("POST", PAR_URL))
    request_uri = response.get_json()["request_uri"]
    flow.sign_in()
    code = flow.query(flow.decide(by_reference(request_uri)).headers["Location"])["code"]

    without_key = flow.redeem(code, verifier)
    with_key = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))

    assert without_key.get_json()["error"] == "invalid_dpop_proof"
    assert with_key.get_json()["token_type"] == "DPoP"


def test_a_par_proof_must_match_a_dpop_jkt_pushed_beside_it(flow, client_key, make_client_key):
    params = flow.authorize_params(dpop_jkt=make_client_key().jkt)

    response = flow.push(params, dpop=client_key.proof("POST", PAR_URL))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_a_par_proof_for_the_token_endpoint_is_refused(flow, client_key):
    response = flow.push(flow.authorize_params(), dpop=client_key.proof("POST", TOKEN_URL))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_a_par_proof_without_the_demanded_nonce_is_told_to_use_one(provider_configured, client_key):
    flow = provider_configured(DEMO_PROVIDER_REQUIRE_DPOP_NONCE=True)

    first = flow.push(flow.authorize_params(), dpop=client_key.proof("POST", PAR_URL))
    nonce = first.headers["DPoP-Nonce"]
    retry = flow.push(flow.authorize_params(), dpop=client_key.proof("POST", PAR_URL, nonce=nonce))

    assert first.status_code == 400
    assert first.get_json()["error"] == "use_dpop_nonce"
    assert retry.status_code == 201, retry.get_data(as_text=True)
