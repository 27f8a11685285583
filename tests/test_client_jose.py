"""The client's JOSE building blocks: DPoP proofs and keys (RFC 9449), `private_key_jwt` client
assertions (RFC 7523), and the client's own signing keys, checked against the RFCs' examples.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time
import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jwk, jws, jwt
from joserfc.errors import BadSignatureError
from joserfc.jws import JWSRegistry
from requests.structures import CaseInsensitiveDict
from werkzeug.datastructures import Headers

from oauth import client_assertion, client_keys, dpop

# -- RFC examples -------------------------------------------------------------------------------

# RFC 7638 §3.1: the example RSA public key and its SHA-256 thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2"
    "QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
    "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# RFC 9449: the example proof key (§4.1) and its thumbprint, the `jkt` of §6.1 and §10.
RFC9449_KEY = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
_RFC9449_HEADER = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0Vj"
    "NoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5"
    "VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
)
# RFC 9449 §4.1, Figure 4: the proof sent with a token request.
RFC9449_TOKEN_PROOF = (
    _RFC9449_HEADER
    + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1w"
    "bGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ"
    ".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
# RFC 9449 §7.1: the access token, its `ath`, and the proof sent with it to a resource server.
RFC9449_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC9449_ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
RFC9449_RESOURCE_PROOF = (
    _RFC9449_HEADER
    + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFt"
    "cGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05y"
    "V0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9"
    ".2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
# RFC 9449 §8: the example nonce.
RFC9449_NONCE = "eyJ7S_zG.eyJH0-Z.HX4w-7v"

# Every JWK member that holds private key material (RFC 7518 §6, RFC 8037 §2).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
PUBLIC_MEMBERS = {
    "EC": {"kty", "crv", "x", "y"},
    "RSA": {"kty", "n", "e"},
    "OKP": {"kty", "crv", "x"},
}

# joserfc warns that RFC 9864 deprecates the name "EdDSA" for Ed25519; providers still list it
# in `dpop_signing_alg_values_supported` and FAPI 2.0 names it, so the client signs with it
# where a provider lists only that name, and with RFC 9864's "Ed25519" where it lists that.
EDDSA = pytest.param("EdDSA", marks=pytest.mark.filterwarnings("ignore:EdDSA is deprecated"))
ALGORITHMS = ["ES256", "PS256", "Ed25519", EDDSA]


def registry(alg: str | None = None) -> JWSRegistry:
    registry = JWSRegistry(algorithms=[alg] if alg else None)
    # A PS256 proof carries a 2048-bit modulus in its header: more than joserfc's 512-byte
    # default limit for a header, which is meant for tokens that name their key by kid.
    registry.max_header_length = 2048
    return registry


def verify(token: str, public_key, alg: str) -> jwt.Token:
    """The token's header and claims, once its signature checks out with `public_key`."""
    return jwt.decode(token, public_key, registry=registry(alg))


def header_of(token: str) -> dict:
    return jws.extract_compact(token.encode(), registry=registry()).headers()


def verify_proof(token: str, alg: str) -> jwt.Token:
    """A proof checked as a server would: with the public key in its own header."""
    return verify(token, jwk.import_key(header_of(token)["jwk"]), alg)


def base64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url_length(value: str) -> int:
    return len(base64url_decode(value))


def test_rfc7638_example_key_has_the_rfc_thumbprint():
    assert dpop.thumbprint(jwk.import_key(RFC7638_KEY)) == RFC7638_THUMBPRINT


def test_rfc9449_example_key_thumbprint_is_the_rfc_jkt():
    assert dpop.thumbprint(jwk.import_key(RFC9449_KEY)) == RFC9449_JKT


def test_rfc9449_example_ath_is_the_rfc_value():
    assert dpop.access_token_hash(RFC9449_ACCESS_TOKEN) == RFC9449_ATH


def test_rfc9449_token_request_proof_verifies_with_its_embedded_key():
    header = header_of(RFC9449_TOKEN_PROOF)
    assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": RFC9449_KEY}
    token = verify_proof(RFC9449_TOKEN_PROOF, "ES256")
    assert token.claims == {
        "jti": "-BwC3ESc6acc2lTc",
        "htm": "POST",
        "htu": "https://server.example.com/token",
        "iat": 1562262616,
    }
    assert dpop.thumbprint(jwk.import_key(header["jwk"])) == RFC9449_JKT


def test_rfc9449_resource_proof_carries_the_hash_of_its_access_token():
    token = verify_proof(RFC9449_RESOURCE_PROOF, "ES256")
    assert token.claims["htm"] == "GET"
    assert token.claims["htu"] == "https://resource.example.org/protectedresource"
    assert token.claims["ath"] == dpop.access_token_hash(RFC9449_ACCESS_TOKEN)


def test_a_tampered_rfc9449_proof_does_not_verify():
    # The control for the two tests above: the verification really checks the signature.
    header, _, signature = RFC9449_TOKEN_PROOF.split(".")
    claims = {"jti": "-BwC3ESc6acc2lTc", "htm": "POST", "htu": "https://evil.example/token"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        verify_proof(f"{header}.{payload}.{signature}", "ES256")


@functools.cache
def key_for(alg: str):
    """One key per algorithm for the tests that only use a key: an RSA one takes a while to
    generate, and `test_new_key_makes_a_private_key_for_the_algorithm` tests generating."""
    return dpop.new_key(alg)


# -- DPoP keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "kind", "curve_or_bits"),
    [
        ("ES256", jwk.ECKey, "P-256"),
        ("PS256", jwk.RSAKey, 2048),
        ("Ed25519", jwk.OKPKey, "Ed25519"),
        ("EdDSA", jwk.OKPKey, "Ed25519"),
    ],
)
def test_new_key_makes_a_private_key_for_the_algorithm(alg, kind, curve_or_bits):
    key = dpop.new_key(alg)
    assert isinstance(key, kind)
    assert key.is_private
    # An Ed25519 key keeps the name it was made for: its proofs go out under that name.
    assert client_keys.algorithm(key) == alg
    if kind is jwk.RSAKey:
        assert key.public_key.key_size == curve_or_bits
    else:
        assert key.curve_name == curve_or_bits


def test_new_key_defaults_to_es256():
    assert client_keys.algorithm(dpop.new_key()) == "ES256"


@pytest.mark.parametrize("alg", ["RS256", "HS256", "none", "ES384", ""])
def test_new_key_refuses_other_algorithms(alg):
    with pytest.raises(ValueError, match="unsupported signing algorithm"):
        dpop.new_key(alg)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_serialized_key_comes_back_as_the_same_key(alg):
    key = key_for(alg)
    text = dpop.serialize(key)
    restored = dpop.deserialize(text)
    assert restored.is_private
    assert dpop.thumbprint(restored) == dpop.thumbprint(key)
    # The restored key signs proofs that the original public key verifies.
    proof = dpop.proof(restored, method="POST", url="https://as.example/token")
    assert verify(proof, jwk.import_key(client_keys.public_members(key)), alg)


def _weak_rsa_key() -> dict:
    # The key the client must refuse, so it is weak on purpose.
    raw = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    return jwk.RSAKey(raw, raw).as_dict(private=True)


def _refused_keys() -> dict[str, object]:
    ec = dpop.new_key("ES256").as_dict(private=True)
    return {
        "public key": client_keys.public_members(dpop.new_key("ES256")),
        "symmetric key": {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"},
        "P-384 key": jwk.ECKey.generate_key("P-384").as_dict(private=True),
        "Ed448 key": jwk.OKPKey.generate_key("Ed448").as_dict(private=True),
        "X25519 key": jwk.OKPKey.generate_key("X25519").as_dict(private=True),
        "1024-bit RSA key": _weak_rsa_key(),
        "unknown kty": {"kty": "XYZ", "d": "AAAA"},
        "mismatched private part": {**ec, "d": dpop.new_key().as_dict(private=True)["d"]},
        "JSON list": [ec],
        "JSON null": None,
    }


@pytest.mark.parametrize("case", list(_refused_keys()))
def test_deserialize_refuses_anything_but_an_allowed_private_key(case):
    data = _refused_keys()[case]
    with pytest.raises(ValueError, match="DPoP key") as refused:
        dpop.deserialize(json.dumps(data))
    assert_no_key_material(refused.value, [data])


@pytest.mark.parametrize("text", ["", "not json", '{"kty": "EC", "d": ', b"\xff\xfe"])
def test_deserialize_refuses_text_that_is_not_json(text):
    with pytest.raises(ValueError, match="not valid JSON"):
        dpop.deserialize(text)


# -- DPoP proofs --------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_proof_header_carries_the_public_key_only(alg):
    key = key_for(alg)
    header = header_of(dpop.proof(key, method="POST", url="https://as.example/token"))
    assert set(header) == {"typ", "alg", "jwk"}
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == alg
    assert set(header["jwk"]) == PUBLIC_MEMBERS[header["jwk"]["kty"]]
    assert not PRIVATE_MEMBERS & set(header["jwk"])
    # The key in the header is this key: the thumbprint the provider binds tokens to.
    assert dpop.thumbprint(jwk.import_key(header["jwk"])) == dpop.thumbprint(key)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_proof_verifies_with_the_key_in_its_header(alg):
    key = key_for(alg)
    proof = dpop.proof(key, method="GET", url="https://rs.example/api", access_token="at")
    assert verify_proof(proof, alg).claims["htm"] == "GET"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_token_request_proof_has_the_rfc_claims(alg):
    key = key_for(alg)
    proof = dpop.proof(key, method="post", url="https://as.example/token", now=1_700_000_000)
    claims = verify_proof(proof, alg).claims
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://as.example/token"
    assert claims["iat"] == 1_700_000_000
    # At least 96 random bits (RFC 9449 §4.2).
    assert b64url_length(claims["jti"]) * 8 >= 96


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_resource_proof_carries_ath_and_nonce(alg):
    key = key_for(alg)
    proof = dpop.proof(
        key,
        method="GET",
        url="https://rs.example/api/me",
        nonce=RFC9449_NONCE,
        access_token=RFC9449_ACCESS_TOKEN,
    )
    claims = verify_proof(proof, alg).claims
    assert claims["ath"] == RFC9449_ATH
    assert claims["nonce"] == RFC9449_NONCE


def test_a_proof_has_no_ath_without_an_access_token():
    proof = dpop.proof(dpop.new_key(), method="POST", url="https://as.example/token")
    assert "ath" not in verify_proof(proof, "ES256").claims


def test_a_proof_has_no_nonce_unless_given_one():
    proof = dpop.proof(dpop.new_key(), method="POST", url="https://as.example/token")
    assert "nonce" not in verify_proof(proof, "ES256").claims


def test_a_proof_iat_is_the_current_time_by_default():
    before = int(time.time())
    proof = dpop.proof(dpop.new_key(), method="POST", url="https://as.example/token")
    assert before <= verify_proof(proof, "ES256").claims["iat"] <= int(time.time())


def test_every_proof_has_its_own_jti():
    key = dpop.new_key()
    proofs = [dpop.proof(key, method="GET", url="https://rs.example/", now=1) for _ in range(50)]
    jtis = {verify_proof(proof, "ES256").claims["jti"] for proof in proofs}
    assert len(jtis) == 50


@pytest.mark.parametrize(
    ("url", "htu"),
    [
        ("https://rs.example/api/x?y=1#z", "https://rs.example/api/x"),
        ("https://rs.example/api/x?access_token=secret", "https://rs.example/api/x"),
        ("https://rs.example/api/x#fragment", "https://rs.example/api/x"),
        ("https://rs.example:8443/token", "https://rs.example:8443/token"),
        ("https://rs.example", "https://rs.example/"),
        ("https://rs.example?q", "https://rs.example/"),
        ("http://127.0.0.1:5000/demo-provider/token", "http://127.0.0.1:5000/demo-provider/token"),
    ],
)
def test_htu_is_the_url_without_query_and_fragment(url, htu):
    proof = dpop.proof(dpop.new_key(), method="GET", url=url)
    assert verify_proof(proof, "ES256").claims["htu"] == htu


@pytest.mark.parametrize(
    "url",
    ["/token", "token", "ftp://as.example/token", "https://", "https://user:pw@as.example/token"],
)
def test_a_proof_refuses_a_url_that_is_not_an_absolute_http_target(url):
    with pytest.raises(ValueError, match="DPoP target"):
        dpop.proof(dpop.new_key(), method="POST", url=url)


@pytest.mark.parametrize("method", ["", "GET /x", "PO ST", "GÉT", "GET\r\n"])
def test_a_proof_refuses_a_method_that_is_not_an_http_method(method):
    with pytest.raises(ValueError, match="HTTP method"):
        dpop.proof(dpop.new_key(), method=method, url="https://as.example/token")


def test_a_proof_refuses_a_public_key():
    public = jwk.import_key(client_keys.public_members(dpop.new_key()))
    with pytest.raises(ValueError, match="private key"):
        dpop.proof(public, method="POST", url="https://as.example/token")


# -- DPoP nonces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"DPoP-Nonce": RFC9449_NONCE, "Content-Type": "application/json"},
        {"dpop-nonce": RFC9449_NONCE},
        CaseInsensitiveDict({"DPOP-NONCE": RFC9449_NONCE}),
        Headers([("DPoP-Nonce", RFC9449_NONCE), ("Cache-Control", "no-store")]),
        {"DPoP-Nonce": f" {RFC9449_NONCE}\t"},
    ],
    ids=["dict", "lowercase", "requests", "werkzeug", "padded"],
)
def test_nonce_from_reads_the_dpop_nonce_header(headers):
    assert dpop.nonce_from(headers) == RFC9449_NONCE


def test_nonce_from_accepts_every_nqchar():
    every = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\')
    assert dpop.nonce_from({"DPoP-Nonce": every}) == every


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"DPoP-Nonce": ""},
        {"DPoP-Nonce": "two words"},
        {"DPoP-Nonce": 'say"cheese'},
        {"DPoP-Nonce": "back\\slash"},
        {"DPoP-Nonce": "tab\tinside"},
        {"DPoP-Nonce": "line\r\nX-Injected: 1"},
        {"DPoP-Nonce": "nul\x00"},
        {"DPoP-Nonce": "noncé"},
        {"DPoP-Nonce": "a" * 1025},
        {"DPoP-Nonce": "first, second"},
        Headers([("DPoP-Nonce", "first"), ("DPoP-Nonce", "second")]),
        {"DPoP-Nonce": None},
    ],
    ids=[
        "absent",
        "other headers",
        "empty",
        "space",
        "quote",
        "backslash",
        "tab",
        "crlf",
        "nul",
        "non-ascii",
        "too long",
        "comma-joined",
        "repeated",
        "not a string",
    ],
)
def test_nonce_from_ignores_missing_and_junk_values(headers):
    assert dpop.nonce_from(headers) is None


NONCE_ERROR_BODY = {
    "error": "use_dpop_nonce",
    "error_description": "Authorization server requires nonce in DPoP proof",
}
# RFC 9449 §9: the resource server's challenge.
NONCE_CHALLENGE = (
    'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"'
)


@pytest.mark.parametrize(
    "body",
    [NONCE_ERROR_BODY, json.dumps(NONCE_ERROR_BODY), json.dumps(NONCE_ERROR_BODY).encode()],
    ids=["parsed", "text", "bytes"],
)
def test_a_token_endpoint_nonce_error_is_recognised(body):
    headers = {"DPoP-Nonce": RFC9449_NONCE, "Content-Type": "application/json"}
    assert dpop.is_nonce_error(400, headers, body)


@pytest.mark.parametrize(
    "challenge",
    [
        NONCE_CHALLENGE,
        'DPoP algs="ES256 PS256", error="use_dpop_nonce"',
        'Bearer realm="api", DPoP algs="ES256", error="use_dpop_nonce", error_description="x"',
        'dpop error="use_dpop_nonce"',
        "DPoP error=use_dpop_nonce",
        'DPoP error = "use_dpop_nonce"',
    ],
)
def test_a_resource_server_nonce_challenge_is_recognised(challenge):
    headers = {"WWW-Authenticate": challenge, "DPoP-Nonce": RFC9449_NONCE}
    assert dpop.is_nonce_error(401, headers, b"")


def test_a_nonce_challenge_in_a_repeated_header_is_recognised():
    headers = Headers(
        [("WWW-Authenticate", 'Bearer realm="api"'), ("www-authenticate", NONCE_CHALLENGE)]
    )
    assert dpop.is_nonce_error(401, headers, None)


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (400, {}, {"error": "invalid_dpop_proof"}),
        (400, {}, {"error": "invalid_grant"}),
        (400, {}, "<html>Bad Request</html>"),
        (400, {}, b"\xff\xfe"),
        (400, {}, ["use_dpop_nonce"]),
        (400, {}, None),
        (400, {"WWW-Authenticate": NONCE_CHALLENGE}, None),
        (400, {}, json.dumps({"error": "use_dpop_nonce", "pad": "x" * 20000})),
        (401, {}, NONCE_ERROR_BODY),
        (401, {"WWW-Authenticate": 'DPoP error="invalid_token"'}, None),
        (401, {"WWW-Authenticate": 'Bearer error="use_dpop_nonce"'}, None),
        (401, {"WWW-Authenticate": 'DPoP error="use_dpop_nonce'}, None),
        (401, {"WWW-Authenticate": 'DPoP realm="a, error=\\"use_dpop_nonce\\""'}, None),
        (401, {"WWW-Authenticate": 'DPoP error="use_dpop_nonce_not"'}, None),
        (401, {"WWW-Authenticate": "DPoPerror=use_dpop_nonce"}, None),
        (401, {"WWW-Authenticate": "DPoP " + "x" * 20000 + ', error="use_dpop_nonce"'}, None),
        (403, {"WWW-Authenticate": NONCE_CHALLENGE}, NONCE_ERROR_BODY),
        (500, {}, NONCE_ERROR_BODY),
        (200, {"DPoP-Nonce": RFC9449_NONCE}, NONCE_ERROR_BODY),
    ],
)
def test_other_answers_are_not_nonce_errors(status, headers, body):
    assert not dpop.is_nonce_error(status, headers, body)


# -- client assertions --------------------------------------------------------------------------

ISSUER = "https://op.example"
CLIENT_ID = "s6BhdRkqt3"


@pytest.fixture(scope="module")
def key_sets():
    return {alg: client_keys.parse(client_keys.generate(alg)) for alg in client_keys.ALGORITHMS}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_client_assertion_verifies_with_the_published_jwks(alg, key_sets):
    keys = key_sets[alg]
    assertion = client_assertion.client_assertion(
        client_keys.signing_key(keys), client_id=CLIENT_ID, audience=ISSUER
    )
    published = jwk.KeySet.import_key_set(client_keys.public_jwks(keys))
    token = verify(assertion, published, alg)
    assert token.header == {"alg": alg, "typ": "JWT", "kid": keys[0].kid}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_client_assertion_has_the_rfc7523_claims(alg, key_sets):
    key = client_keys.signing_key(key_sets[alg])
    assertion = client_assertion.client_assertion(
        key, client_id=CLIENT_ID, audience=ISSUER, lifetime=45, now=1_700_000_000
    )
    claims = verify(assertion, jwk.import_key(client_keys.public_members(key)), alg).claims
    assert set(claims) == {"iss", "sub", "aud", "jti", "iat", "exp"}
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == ISSUER
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] - claims["iat"] == 45
    assert b64url_length(claims["jti"]) * 8 >= 128


def test_a_client_assertion_lives_a_minute_by_default(key_sets):
    key = client_keys.signing_key(key_sets["ES256"])
    assertion = client_assertion.client_assertion(key, client_id=CLIENT_ID, audience=ISSUER)
    claims = verify(assertion, jwk.import_key(client_keys.public_members(key)), "ES256").claims
    assert claims["exp"] - claims["iat"] == 60


def test_every_client_assertion_has_its_own_jti(key_sets):
    key = client_keys.signing_key(key_sets["ES256"])
    public = jwk.import_key(client_keys.public_members(key))
    jtis = {
        verify(
            client_assertion.client_assertion(key, client_id=CLIENT_ID, audience=ISSUER, now=1),
            public,
            "ES256",
        ).claims["jti"]
        for _ in range(50)
    }
    assert len(jtis) == 50


def test_a_client_assertion_names_no_kid_for_a_key_without_one():
    assertion = client_assertion.client_assertion(
        dpop.new_key(), client_id=CLIENT_ID, audience=ISSUER
    )
    assert header_of(assertion) == {"alg": "ES256", "typ": "JWT"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"client_id": ""}, "client_id"),
        ({"audience": ""}, "issuer identifier"),
        ({"lifetime": 0}, "lifetime"),
        ({"lifetime": -60}, "lifetime"),
        ({"lifetime": 301}, "lifetime"),
        ({"lifetime": 3600}, "lifetime"),
        ({"lifetime": True}, "lifetime"),
        ({"lifetime": 60.5}, "lifetime"),
    ],
)
def test_a_client_assertion_refuses_bad_arguments(arguments, message, key_sets):
    key = client_keys.signing_key(key_sets["ES256"])
    with pytest.raises(ValueError, match=message):
        client_assertion.client_assertion(
            key, **{"client_id": CLIENT_ID, "audience": ISSUER, **arguments}
        )


def test_a_client_assertion_refuses_a_public_key():
    public = jwk.import_key(client_keys.public_members(dpop.new_key()))
    with pytest.raises(ValueError, match="private key"):
        client_assertion.client_assertion(public, client_id=CLIENT_ID, audience=ISSUER)


def test_the_assertion_type_is_the_rfc7523_urn():
    assert client_assertion.ASSERTION_TYPE == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )


# -- the client's signing keys ------------------------------------------------------------------


def jwk_set(*keys: dict) -> str:
    return json.dumps({"keys": list(keys)})


def private_jwk(signs_with: str = "ES256", **members) -> dict:
    return {**dpop.new_key(signs_with).as_dict(private=True), **members}


def assert_no_key_material(error: BaseException, keys: list) -> None:
    """Neither the error nor anything chained to it quotes a member of the keys."""
    values = [
        value
        for key in keys
        if isinstance(key, dict)
        for value in key.values()
        if isinstance(value, str) and len(value) >= 16
    ]
    while error is not None:
        text = f"{error} {error!r} {vars(error)!r}"
        assert not [value for value in values if value in text]
        error = error.__cause__ or error.__context__


@pytest.mark.parametrize("alg", ["ES256", "PS256", EDDSA])
def test_generate_round_trips_through_parse(alg):
    text = client_keys.generate(alg)
    (key,) = client_keys.parse(text)
    assert key.is_private
    assert client_keys.algorithm(key) == alg
    assert key.kid == key.thumbprint()
    assert json.loads(text)["keys"][0]["alg"] == alg


def test_generate_refuses_an_unknown_algorithm():
    with pytest.raises(ValueError, match="unsupported signing algorithm"):
        client_keys.generate("RS256")


def test_parse_gives_a_key_without_kid_its_thumbprint():
    (key,) = client_keys.parse(jwk_set(private_jwk()))
    assert key.kid == dpop.thumbprint(key)


def test_parse_keeps_the_configured_kids_in_order():
    keys = client_keys.parse(
        jwk_set(private_jwk(kid="2025-01"), private_jwk("PS256", kid="b"), private_jwk("EdDSA"))
    )
    assert [key.kid for key in keys[:2]] == ["2025-01", "b"]
    assert [client_keys.algorithm(key) for key in keys] == ["ES256", "PS256", "EdDSA"]


@pytest.mark.parametrize(
    ("jwk_alg", "signs_as"), [("Ed25519", "Ed25519"), ("EdDSA", "EdDSA"), (None, "EdDSA")]
)
def test_an_ed25519_key_signs_under_the_name_its_jwk_gives(jwk_alg, signs_as):
    data = jwk.OKPKey.generate_key("Ed25519").as_dict(private=True)
    if jwk_alg is not None:
        data["alg"] = jwk_alg
    (key,) = client_keys.parse(jwk_set(data))
    # The name it is published under and the name its assertions carry are the same one: a
    # provider holds the JWS to the JWK's alg.
    assert client_keys.public_jwks([key])["keys"][0]["alg"] == signs_as
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "EdDSA is deprecated")
        assertion = client_assertion.client_assertion(key, client_id=CLIENT_ID, audience=ISSUER)
    assert header_of(assertion)["alg"] == signs_as


# RFC 8037 Appendix A.1 and A.4: an Ed25519 key and a JWS it signs (EdDSA is deterministic).
RFC8037_KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_the_client_signs_the_rfc8037_example_as_the_rfc_does():
    key = client_keys.import_private(RFC8037_KEY)
    assert client_keys.algorithm(key) == "EdDSA"
    signed = jws.serialize_compact(
        {"alg": "EdDSA"}, b"Example of Ed25519 signing", key, algorithms=["EdDSA"]
    )
    assert signed == RFC8037_JWS


def test_an_ed25519_named_signature_is_the_same_ed25519_signature():
    """RFC 9864 renames the algorithm, not the signature: under `Ed25519` the client signs the
    JWS input with the same Ed25519 key, which the curve's own verifier accepts."""
    key = client_keys.import_private({**RFC8037_KEY, "alg": "Ed25519"})
    signed = jws.serialize_compact(
        {"alg": "Ed25519"}, b"Example of Ed25519 signing", key, algorithms=["Ed25519"]
    )
    header, payload, signature = signed.split(".")
    assert json.loads(base64url_decode(header)) == {"alg": "Ed25519"}
    public = Ed25519PublicKey.from_public_bytes(base64url_decode(RFC8037_KEY["x"]))
    public.verify(base64url_decode(signature), f"{header}.{payload}".encode())


def _refused_sets() -> dict[str, tuple[list, str]]:
    ec = private_jwk()
    return {
        "empty set": ([], "has no keys"),
        "public key": ([client_keys.public_members(dpop.new_key())], "key 1: this is a public key"),
        "symmetric key": (
            [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}],
            "key 1: a symmetric",
        ),
        "1024-bit RSA key": ([private_jwk(), _weak_rsa_key()], "key 2: an RSA key must have"),
        "P-384 key": ([jwk.ECKey.generate_key("P-384").as_dict(private=True)], "P-256"),
        "secp256k1 key": ([jwk.ECKey.generate_key("secp256k1").as_dict(private=True)], "P-256"),
        "Ed448 key": ([jwk.OKPKey.generate_key("Ed448").as_dict(private=True)], "Ed25519"),
        "unknown kty": ([{"kty": "PQC", "d": "AAAA"}], "unsupported kty"),
        "no kty": ([{"d": "AAAA"}], "unsupported kty"),
        "not an object": (["a key"], "JSON object"),
        "broken private part": ([{**ec, "d": "AAAA"}], "not a valid EC private key"),
        "private part of another key": ([{**ec, "d": private_jwk()["d"]}], "not a valid EC"),
        "RS256 key": ([private_jwk("PS256", alg="RS256")], "signs with PS256"),
        "Ed25519 key marked ES256": ([private_jwk("Ed25519", alg="ES256")], "Ed25519 or EdDSA"),
        "encryption key": ([private_jwk(use="enc")], '"use"'),
        "verify-only key_ops": ([private_jwk(key_ops=["verify"])], '"key_ops"'),
        "numeric kid": ([private_jwk(kid=7)], "kid must be a non-empty string"),
        "empty kid": ([private_jwk(kid="")], "kid must be a non-empty string"),
        "duplicate kid": ([private_jwk(kid="a"), private_jwk(kid="a")], "key 2: duplicate kid 'a'"),
        "same key twice": ([ec, ec], "key 2: duplicate kid"),
    }


@pytest.mark.parametrize("case", list(_refused_sets()))
def test_parse_refuses_a_set_it_cannot_sign_with(case):
    keys, message = _refused_sets()[case]
    with pytest.raises(ValueError, match=message) as refused:
        client_keys.parse(jwk_set(*keys))
    assert str(refused.value).startswith("CLIENT_SIGNING_KEYS ")
    assert_no_key_material(refused.value, keys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON"),
        ("{'keys': []}", "not valid JSON"),
        ('{"keys": [' + json.dumps(private_jwk()) + "]", "not valid JSON"),
        ("[]", "must be a JWK Set"),
        ("null", "must be a JWK Set"),
        ('{"keys": {}}', "must be a JWK Set"),
        (json.dumps(private_jwk()), "must be a JWK Set"),
    ],
)
def test_parse_refuses_text_that_is_not_a_jwk_set(text, message):
    with pytest.raises(ValueError, match=message) as refused:
        client_keys.parse(text)
    # A half-pasted key in the variable must not come back in the error, nor ride along with it.
    assert_no_key_material(refused.value, [dict(enumerate(re.findall(r"[\w-]{16,}", text)))])


def test_a_json_error_carries_nothing_of_the_text():
    key = private_jwk()
    with pytest.raises(ValueError, match="not valid JSON") as refused:
        client_keys.parse('{"keys": [' + json.dumps(key))
    assert_no_key_material(refused.value, [key])
    assert refused.value.__context__ is None


@pytest.mark.parametrize("alg", ["ES256", "PS256", EDDSA])
def test_public_jwks_has_no_private_members(alg):
    keys = client_keys.parse(client_keys.generate(alg))
    (published,) = client_keys.public_jwks(keys)["keys"]
    assert not PRIVATE_MEMBERS & set(published)
    assert set(published) == PUBLIC_MEMBERS[published["kty"]] | {"kid", "use", "alg"}
    assert published["kid"] == keys[0].kid
    assert published["use"] == "sig"
    assert published["alg"] == alg


def test_public_jwks_drops_members_it_does_not_know():
    # An allow-list: a stray private or unknown member of the configured key is never published.
    (key,) = client_keys.parse(jwk_set(private_jwk(x5c=["MIIB"], ext=True, kid="k")))
    (published,) = client_keys.public_jwks([key])["keys"]
    assert set(published) == {"kty", "crv", "x", "y", "kid", "use", "alg"}


def test_rotation_signs_with_the_first_key_and_publishes_all(key_sets):
    current, new = key_sets["ES256"][0], key_sets["PS256"][0]
    # Step 1: the new key is added last: published, not yet signing.
    keys = [current, new]
    assert client_keys.signing_key(keys) is current
    assert [k["kid"] for k in client_keys.public_jwks(keys)["keys"]] == [current.kid, new.kid]
    # Step 2: moved first, it signs; the old key stays published for what it signed.
    keys = [new, current]
    assertion = client_assertion.client_assertion(
        client_keys.signing_key(keys), client_id=CLIENT_ID, audience=ISSUER
    )
    assert header_of(assertion)["kid"] == new.kid
    published = jwk.KeySet.import_key_set(client_keys.public_jwks(keys))
    assert verify(assertion, published, "PS256").claims["iss"] == CLIENT_ID


def test_signing_key_refuses_an_empty_set():
    with pytest.raises(ValueError, match="no client signing keys"):
        client_keys.signing_key([])
