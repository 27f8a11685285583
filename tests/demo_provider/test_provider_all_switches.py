"""The demo provider with every protection switch on, as a FAPI 2.0-style client meets it: the
request pushed with a client assertion, tokens only with a DPoP proof carrying the provider's
nonce, sent to a client that has no secret at all; and what such a provider refuses."""

import pytest

ISSUER = "http://127.0.0.1:5001"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def strict(provider_configured, client_key, keyed_client):
    return provider_configured(
        clients=[keyed_client(client_key)],
        DEMO_PROVIDER_REQUIRE_PAR=True,
        DEMO_PROVIDER_REQUIRE_DPOP=True,
        DEMO_PROVIDER_REQUIRE_DPOP_NONCE=True,
        DEMO_PROVIDER_REQUIRE_PRIVATE_KEY_JWT=True,
    )


def with_nonce(send, proof_for):
    """Send once with a proof lacking a nonce; on use_dpop_nonce (400 from the authorization
    server, 401 from the resource server), once more with the nonce it carried."""
    first = send(proof_for(None))
    if first.get_json().get("error") == "use_dpop_nonce":
        assert first.status_code in (400, 401)
        return send(proof_for(first.headers["DPoP-Nonce"]))
    return first


def test_a_fapi_style_client_signs_in_and_calls_the_api(strict, client_key):
    flow = strict
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(
        challenge, client_id=flow.keyed_client_id, redirect_uri=flow.keyed_redirect_uri
    )

    def push(proof):
        data = {
            **params,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_key.assertion(aud=ISSUER),
        }
        return flow.client.post("/par", data=data, headers={"DPoP": proof})

    pushed = with_nonce(push, lambda nonce: client_key.proof("POST", f"{ISSUER}/par", nonce=nonce))
    assert pushed.status_code == 201, pushed.get_data(as_text=True)
    flow.sign_in()
    reference = {"client_id": flow.keyed_client_id, "request_uri": pushed.get_json()["request_uri"]}
    code = flow.query(flow.decide(reference).headers["Location"])["code"]

    def redeem(proof):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.keyed_redirect_uri,
            "code_verifier": verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_key.assertion(),
        }
        return flow.client.post("/token", data=data, headers={"DPoP": proof})

    tokens = with_nonce(
        redeem, lambda nonce: client_key.proof("POST", f"{ISSUER}/token", nonce=nonce)
    )
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    access_token = tokens.get_json()["access_token"]
    assert tokens.get_json()["token_type"] == "DPoP"

    profile = with_nonce(
        lambda proof: flow.dpop_call("/api/profile", access_token, proof),
        lambda nonce: client_key.proof(
            "GET", f"{ISSUER}/api/profile", access_token=access_token, nonce=nonce
        ),
    )
    assert profile.status_code == 200, profile.get_data(as_text=True)


def test_a_strict_provider_advertises_what_it_requires(strict):
    metadata = strict.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["require_pushed_authorization_requests"] is True
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert metadata["dpop_signing_alg_values_supported"]


def test_a_strict_provider_refuses_a_secret_at_the_par_endpoint(strict):
    response = strict.push(strict.authorize_params())

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_strict_provider_refuses_a_missing_api_proof_with_a_dpop_challenge(strict):
    response = strict.client.get("/api/profile")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP algs="ES256 PS256 Ed25519 EdDSA"'
