"""DPoP (RFC 9449) at the demo provider: a token request with a proof gets tokens bound to the
proof's key, which then work at the resource server only with fresh proofs of that key, refresh
only with that key, and a code requested with `dpop_jkt` is redeemed only with that key. With
the nonce switch on, proofs must carry a nonce the provider handed out recently."""

import pytest
from sqlalchemy import event

from demo_provider import dpop_nonces
from demo_provider.extensions import db
from demo_provider.models import Token

TOKEN_URL = "http://127.0.0.1:5001/token"
PROFILE_URL = "http://127.0.0.1:5001/api/profile"
USERINFO_URL = "http://127.0.0.1:5001/userinfo"


def dpop_tokens(flow, key, **overrides):
    """The code flow with a proof at the token endpoint; returns the token response JSON."""
    code, verifier, _ = flow.obtain_code(**overrides)
    response = flow.redeem(code, verifier, dpop=key.proof("POST", TOKEN_URL))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_token_request_with_a_proof_gets_dpop_bound_tokens(flow, client_key):
    body = dpop_tokens(flow, client_key)

    assert body["token_type"] == "DPoP"
    assert body["access_token"]
    assert body["refresh_token"]
    with flow.client.application.app_context():
        token = Token.find_by_access_token(body["access_token"])
        assert token.dpop_jkt == client_key.jkt


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_an_ed25519_key_proves_under_either_name(flow, make_client_key, alg):
    # RFC 9864 names EdDSA with an Ed25519 key `Ed25519`; clients written before it say `EdDSA`.
    key = make_client_key(alg=alg)
    body = dpop_tokens(flow, key)
    assert body["token_type"] == "DPoP"

    proof = key.proof("GET", PROFILE_URL, access_token=body["access_token"])
    response = flow.dpop_call("/api/profile", body["access_token"], proof)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["username"] == "alice"


def test_a_token_request_without_a_proof_still_gets_bearer_tokens(flow):
    body, _ = flow.tokens()

    assert body["token_type"] == "Bearer"


def test_a_dpop_bound_token_calls_the_api_with_a_proof(flow, client_key):
    body = dpop_tokens(flow, client_key)

    proof = client_key.proof("GET", PROFILE_URL, access_token=body["access_token"])
    response = flow.dpop_call("/api/profile", body["access_token"], proof)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["username"] == "alice"


def test_a_dpop_bound_api_call_reads_its_token_once_and_writes_the_proofs_jti(flow, client_key):
    # Committing the proof's jti mid-request must not make the provider read again the token it
    # has just read: one read, one write.
    body = dpop_tokens(flow, client_key)
    token = body["access_token"]

    def call():
        return flow.dpop_call(
            "/api/profile", token, client_key.proof("GET", PROFILE_URL, access_token=token)
        )

    assert call().status_code == 200  # the first call may also purge expired jtis
    executed = []
    with flow.client.application.app_context():
        engine = db.engine

    def listen(connection, cursor, statement, *rest):
        executed.append(statement.split(None, 1)[0])

    event.listen(engine, "before_cursor_execute", listen)
    try:
        response = call()
    finally:
        event.remove(engine, "before_cursor_execute", listen)

    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"
    assert executed == ["SELECT", "INSERT"]


def test_a_dpop_bound_token_reads_userinfo_by_get_and_post(flow, client_key):
    body = dpop_tokens(flow, client_key)
    token = body["access_token"]

    by_get = flow.dpop_call(
        "/userinfo", token, client_key.proof("GET", USERINFO_URL, access_token=token)
    )
    by_post = flow.dpop_call(
        "/userinfo",
        token,
        client_key.proof("POST", USERINFO_URL, access_token=token),
        method="POST",
    )

    assert by_get.status_code == 200
    assert by_post.status_code == 200
    assert by_get.get_json()["sub"] == by_post.get_json()["sub"]


def test_a_dpop_bound_refresh_token_refreshes_with_a_proof_of_the_same_key(flow, client_key):
    body = dpop_tokens(flow, client_key)

    response = flow.refresh(body["refresh_token"], dpop=client_key.proof("POST", TOKEN_URL))

    refreshed = response.get_json()
    assert response.status_code == 200, refreshed
    assert refreshed["token_type"] == "DPoP"
    proof = client_key.proof("GET", PROFILE_URL, access_token=refreshed["access_token"])
    assert flow.dpop_call("/api/profile", refreshed["access_token"], proof).status_code == 200


def test_a_code_requested_with_dpop_jkt_is_redeemed_with_that_key(flow, client_key):
    code, verifier, _ = flow.obtain_code(dpop_jkt=client_key.jkt)

    response = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["token_type"] == "DPoP"


def test_a_malformed_dpop_jkt_is_refused_at_the_authorization_endpoint(flow):
    flow.sign_in()
    params = flow.authorize_params(dpop_jkt="not-a-thumbprint")

    response = flow.client.get("/authorize", query_string=params)

    assert response.status_code == 302
    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


def test_discovery_advertises_dpop_algorithms(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "PS256", "Ed25519", "EdDSA"]


def test_required_dpop_refuses_a_token_request_without_a_proof(provider_configured):
    flow = provider_configured(DEMO_PROVIDER_REQUIRE_DPOP=True)
    code, verifier, _ = flow.obtain_code()

    response = flow.redeem(code, verifier)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_dpop_proof"


def test_required_dpop_accepts_a_token_request_with_a_proof(provider_configured, client_key):
    flow = provider_configured(DEMO_PROVIDER_REQUIRE_DPOP=True)

    assert dpop_tokens(flow, client_key)["token_type"] == "DPoP"


def test_required_dpop_refuses_a_bearer_token_issued_before(flow):
    body, _ = flow.tokens()
    # The switch turned on while the token is still live.
    flow.client.application.config["DEMO_PROVIDER_REQUIRE_DPOP"] = True

    response = flow.profile_api(body["access_token"])

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP error="invalid_token"'


def test_the_switches_are_read_from_the_environment(monkeypatch, provider_configured):
    monkeypatch.setenv("DEMO_PROVIDER_REQUIRE_DPOP", "true")

    flow = provider_configured()

    assert flow.app.config["DEMO_PROVIDER_REQUIRE_DPOP"] is True
    assert flow.app.config["DEMO_PROVIDER_REQUIRE_PAR"] is False


class TestNonces:
    @pytest.fixture
    def flow(self, provider_configured):
        return provider_configured(DEMO_PROVIDER_REQUIRE_DPOP_NONCE=True)

    def test_a_token_request_without_a_nonce_is_told_to_use_one(self, flow, client_key):
        code, verifier, _ = flow.obtain_code()

        response = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))

        assert response.status_code == 400
        assert response.get_json()["error"] == "use_dpop_nonce"
        assert response.headers["DPoP-Nonce"]
        assert response.headers["Cache-Control"] == "no-store"

    def test_the_retry_with_the_nonce_gets_tokens_and_a_fresh_nonce(self, flow, client_key):
        code, verifier, _ = flow.obtain_code()
        first = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))

        nonce = first.headers["DPoP-Nonce"]
        retry = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL, nonce=nonce))

        # The first attempt spent nothing: the code, and the client's credentials, still work.
        assert retry.status_code == 200, retry.get_data(as_text=True)
        assert retry.get_json()["token_type"] == "DPoP"
        assert retry.headers["DPoP-Nonce"]

    def test_the_resource_server_asks_for_a_nonce_too(self, flow, client_key):
        code, verifier, _ = flow.obtain_code()
        nonce = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL)).headers[
            "DPoP-Nonce"
        ]
        body = flow.redeem(
            code, verifier, dpop=client_key.proof("POST", TOKEN_URL, nonce=nonce)
        ).get_json()
        token = body["access_token"]

        refused = flow.dpop_call(
            "/api/profile", token, client_key.proof("GET", PROFILE_URL, access_token=token)
        )
        fresh = refused.headers["DPoP-Nonce"]
        accepted = flow.dpop_call(
            "/api/profile",
            token,
            client_key.proof("GET", PROFILE_URL, access_token=token, nonce=fresh),
        )

        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'DPoP error="use_dpop_nonce"'
        assert accepted.status_code == 200, accepted.get_data(as_text=True)

    def test_a_refresh_needs_a_nonce_too(self, flow, client_key):
        code, verifier, _ = flow.obtain_code()
        first = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))
        nonce = first.headers["DPoP-Nonce"]
        body = flow.redeem(
            code, verifier, dpop=client_key.proof("POST", TOKEN_URL, nonce=nonce)
        ).get_json()

        without = flow.refresh(body["refresh_token"], dpop=client_key.proof("POST", TOKEN_URL))
        with_nonce = flow.refresh(
            body["refresh_token"],
            dpop=client_key.proof("POST", TOKEN_URL, nonce=without.headers["DPoP-Nonce"]),
        )

        assert without.get_json()["error"] == "use_dpop_nonce"
        assert with_nonce.status_code == 200, with_nonce.get_data(as_text=True)
        assert with_nonce.get_json()["token_type"] == "DPoP"

    def test_the_previous_nonce_is_accepted_after_a_rotation(self, flow, client_key, monkeypatch):
        code, verifier, _ = flow.obtain_code()
        nonce = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL)).headers[
            "DPoP-Nonce"
        ]
        later = dpop_nonces.epoch_now() + dpop_nonces.ROTATION
        monkeypatch.setattr(dpop_nonces, "epoch_now", lambda: later)

        response = flow.redeem(
            code, verifier, dpop=client_key.proof("POST", TOKEN_URL, nonce=nonce)
        )

        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["DPoP-Nonce"] != nonce

    def test_a_nonce_two_rotations_old_is_refused(self, flow, client_key, monkeypatch):
        code, verifier, _ = flow.obtain_code()
        nonce = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL)).headers[
            "DPoP-Nonce"
        ]
        later = dpop_nonces.epoch_now() + 2 * dpop_nonces.ROTATION
        monkeypatch.setattr(dpop_nonces, "epoch_now", lambda: later)

        response = flow.redeem(
            code, verifier, dpop=client_key.proof("POST", TOKEN_URL, nonce=nonce)
        )

        assert response.status_code == 400
        assert response.get_json()["error"] == "use_dpop_nonce"


def test_tokens_are_bound_in_the_database_by_thumbprint_only(flow, client_key):
    body = dpop_tokens(flow, client_key)

    with flow.client.application.app_context():
        rows = db.session.execute(db.text("SELECT jkt FROM demo_provider_token_dpop_binding"))
        assert [row.jkt for row in rows] == [client_key.jkt]
    assert body["access_token"] not in str(client_key.public_jwk)


def test_the_connections_page_shows_the_key_the_tokens_are_bound_to(flow, client_key):
    dpop_tokens(flow, client_key)

    page = flow.connections_page().get_data(as_text=True)

    assert f"cnf.jkt {client_key.jkt}" in page


def test_the_connections_page_shows_no_key_for_bearer_tokens(flow):
    flow.tokens()

    page = flow.connections_page().get_data(as_text=True)

    assert "Workshop App" in page
    assert "cnf.jkt" not in page
