"""Attacks on DPoP at the demo provider, each refused with the error RFC 9449 names: replayed,
misdirected, stale or forged proofs, proofs whose key is not the one a token is bound to, a
bound token downgraded to Bearer, and proofs that do not name the token they come with."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

TOKEN_URL = "http://127.0.0.1:5001/token"
PROFILE_URL = "http://127.0.0.1:5001/api/profile"
INVALID_PROOF = 'DPoP error="invalid_dpop_proof"'


@pytest.fixture
def bound(flow, client_key):
    """DPoP-bound tokens for alice, bound to `client_key`."""
    code, verifier, _ = flow.obtain_code()
    response = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def refused_at_token_endpoint(flow, proof):
    """Redeem a fresh code with `proof`; returns the response."""
    code, verifier, _ = flow.obtain_code()
    return flow.redeem(code, verifier, dpop=proof)


def assert_invalid_proof_at_token_endpoint(response):
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_dpop_proof"
    assert "access_token" not in response.get_json()


def assert_invalid_proof_at_resource(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == INVALID_PROOF
    assert response.get_json()["error"] == "invalid_dpop_proof"
    assert "sub" not in response.get_json()


def test_a_replayed_proof_is_refused_at_the_token_endpoint(flow, client_key):
    proof = client_key.proof("POST", TOKEN_URL)
    assert refused_at_token_endpoint(flow, proof).status_code == 200

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


def test_a_replayed_proof_is_refused_at_the_resource_server(flow, client_key, bound):
    token = bound["access_token"]
    proof = client_key.proof("GET", PROFILE_URL, access_token=token)
    assert flow.dpop_call("/api/profile", token, proof).status_code == 200

    assert_invalid_proof_at_resource(flow.dpop_call("/api/profile", token, proof))


@pytest.mark.parametrize(
    "htu",
    [
        "http://127.0.0.1:5001/par",
        "https://127.0.0.1:5001/token",
        "http://evil.example/token",
        "http://127.0.0.1:5002/token",
        "not a url",
    ],
)
def test_a_proof_for_another_url_is_refused_at_the_token_endpoint(flow, client_key, htu):
    response = refused_at_token_endpoint(flow, client_key.proof("POST", htu))

    assert_invalid_proof_at_token_endpoint(response)


def test_the_url_comparison_ignores_case_default_port_and_query(flow, client_key):
    proof = client_key.proof("POST", "HTTP://127.0.0.1:5001/token?x=1#y")

    assert refused_at_token_endpoint(flow, proof).status_code == 200


def test_a_proof_for_another_method_is_refused(flow, client_key, bound):
    token = bound["access_token"]

    at_token = refused_at_token_endpoint(flow, client_key.proof("GET", TOKEN_URL))
    at_resource = flow.dpop_call(
        "/api/profile", token, client_key.proof("POST", PROFILE_URL, access_token=token)
    )

    assert_invalid_proof_at_token_endpoint(at_token)
    assert_invalid_proof_at_resource(at_resource)


def test_a_proof_for_another_resource_is_refused(flow, client_key, bound):
    token = bound["access_token"]
    proof = client_key.proof("GET", "http://127.0.0.1:5001/userinfo", access_token=token)

    assert_invalid_proof_at_resource(flow.dpop_call("/api/profile", token, proof))


@pytest.mark.parametrize("offset", [-120, 120], ids=["stale", "future"])
def test_a_proof_with_a_stale_or_future_iat_is_refused(flow, client_key, offset):
    proof = client_key.proof("POST", TOKEN_URL, iat=int(time.time()) + offset)

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


@pytest.mark.parametrize("missing", ["jti", "htm", "htu", "iat"])
def test_a_proof_without_a_required_claim_is_refused(flow, client_key, missing):
    proof = client_key.proof(**{"htm": "POST", "htu": TOKEN_URL, missing: None})

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(flow, client_key, make_client_key):
    other = make_client_key()
    claims = {"jti": "x1", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": client_key.public_jwk}
    proof = jwt.encode(header, claims, other.key, algorithms=["ES256"])

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


def test_a_token_used_with_another_key_is_refused(flow, bound, make_client_key):
    token = bound["access_token"]
    thief = make_client_key()

    response = flow.dpop_call(
        "/api/profile", token, thief.proof("GET", PROFILE_URL, access_token=token)
    )

    assert_invalid_proof_at_resource(response)


def test_a_refresh_token_used_with_another_key_is_refused(flow, bound, make_client_key):
    thief = make_client_key()

    response = flow.refresh(bound["refresh_token"], dpop=thief.proof("POST", TOKEN_URL))

    assert_invalid_proof_at_token_endpoint(response)


def test_a_bound_refresh_token_without_a_proof_is_refused(flow, client_key, bound):
    refused = flow.refresh(bound["refresh_token"])
    # The holder of the key can still use it: the failed attempt retired nothing.
    kept = flow.refresh(bound["refresh_token"], dpop=client_key.proof("POST", TOKEN_URL))

    assert_invalid_proof_at_token_endpoint(refused)
    assert kept.status_code == 200, kept.get_data(as_text=True)


def test_a_code_bound_by_dpop_jkt_is_refused_with_another_key(flow, client_key, make_client_key):
    code, verifier, _ = flow.obtain_code(dpop_jkt=client_key.jkt)

    other_key = make_client_key()
    with_other_key = flow.redeem(code, verifier, dpop=other_key.proof("POST", TOKEN_URL))
    without_proof = flow.redeem(code, verifier)
    rightful = flow.redeem(code, verifier, dpop=client_key.proof("POST", TOKEN_URL))

    assert_invalid_proof_at_token_endpoint(with_other_key)
    assert_invalid_proof_at_token_endpoint(without_proof)
    assert rightful.status_code == 200, rightful.get_data(as_text=True)


def test_a_proof_with_alg_none_is_refused(flow, client_key):
    claims = {"jti": "n1", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    header = {"alg": "none", "typ": "dpop+jwt", "jwk": client_key.public_jwk}

    response = refused_at_token_endpoint(flow, client_key.unsigned(header, claims))

    assert_invalid_proof_at_token_endpoint(response)


def test_a_proof_with_hs256_is_refused(flow):
    secret = OctKey.generate_key(256)
    claims = {"jti": "h1", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    header = {"alg": "HS256", "typ": "dpop+jwt", "jwk": secret.as_dict(private=False)}
    proof = jwt.encode(header, claims, secret, algorithms=["HS256"])

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


def test_a_proof_carrying_its_private_key_is_refused(flow, client_key):
    claims = {"jti": "p1", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": client_key.key.as_dict(private=True)}
    proof = jwt.encode(header, claims, client_key.key, algorithms=["ES256"])

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


@pytest.mark.parametrize("typ", ["JWT", "dpop", None])
def test_a_proof_of_another_type_is_refused(flow, client_key, typ):
    proof = client_key.proof("POST", TOKEN_URL, header={"typ": typ})

    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


def test_two_proofs_in_one_request_are_refused(flow, client_key):
    code, verifier, _ = flow.obtain_code()
    headers = [
        *flow.basic_auth().items(),
        ("DPoP", client_key.proof("POST", TOKEN_URL)),
        ("DPoP", client_key.proof("POST", TOKEN_URL)),
    ]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": verifier,
    }

    assert_invalid_proof_at_token_endpoint(flow.client.post("/token", data=data, headers=headers))


@pytest.mark.parametrize("proof", ["", "garbage", "a.b.c", "x" * 9000])
def test_a_malformed_proof_is_refused(flow, proof):
    assert_invalid_proof_at_token_endpoint(refused_at_token_endpoint(flow, proof))


def test_a_bound_token_sent_as_bearer_is_refused(flow, bound):
    response = flow.profile_api(bound["access_token"])

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP error="invalid_token"'
    assert "sub" not in response.get_json()


def test_a_bearer_token_sent_under_the_dpop_scheme_is_refused(flow, client_key):
    body, _ = flow.tokens()
    token = body["access_token"]

    response = flow.dpop_call(
        "/api/profile", token, client_key.proof("GET", PROFILE_URL, access_token=token)
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP error="invalid_token"'


def test_a_bound_token_without_a_proof_is_refused(flow, bound):
    response = flow.client.get(
        "/api/profile", headers={"Authorization": f"DPoP {bound['access_token']}"}
    )

    assert_invalid_proof_at_resource(response)


def test_a_proof_without_ath_is_refused(flow, client_key, bound):
    token = bound["access_token"]

    response = flow.dpop_call("/api/profile", token, client_key.proof("GET", PROFILE_URL))

    assert_invalid_proof_at_resource(response)


def test_a_proof_for_another_token_is_refused(flow, client_key, bound):
    token = bound["access_token"]
    proof = client_key.proof("GET", PROFILE_URL, access_token="another-token")

    assert_invalid_proof_at_resource(flow.dpop_call("/api/profile", token, proof))


def test_an_unknown_token_under_the_dpop_scheme_is_invalid_token(flow, client_key):
    proof = client_key.proof("GET", PROFILE_URL, access_token="made-up")

    response = flow.dpop_call("/api/profile", "made-up", proof)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'DPoP error="invalid_token"'
