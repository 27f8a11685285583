"""ID tokens a broken provider or an attacker might send (OpenID Connect Core §3.1.3.7, and the
JOSE library advisories of security-checklist B): each is refused with a 400 page, nothing is
stored, and the tokens that came with it are never used on the provider's APIs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from sqlalchemy import select

from extensions import db
from models import LinkedAccount, LinkStatus, User, utcnow
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.fake_provider import half_hash
from tests.live_provider import query
from tests.misbehaving import (
    DROP,
    MisbehavingProvider,
    assert_nothing_stored,
    assert_refused,
    b64url,
    count,
    forge,
    new_rsa_key,
    public_jwk,
    read,
    segment,
)


@pytest.fixture
def misbehave(provider):
    return MisbehavingProvider(provider)


def assert_refused_before_any_api_call(response, app, flow, reason: str) -> None:
    """The REJECT of the checklist: a 400 page, nothing stored, the access token never used."""
    assert_refused(response, 400, reason)
    recorder = flow.provider.recorder
    assert recorder.calls("/userinfo") == []
    assert recorder.calls("/api/profile") == []
    assert_nothing_stored(app, flow.client)


def test_an_id_token_re_signed_with_the_provider_key_is_accepted(flow, misbehave, app):
    # The control for every test below: the harness's re-signing alone breaks nothing.
    misbehave.id_token(misbehave.resign)
    response = flow.sign_in()
    assert response.status_code == 303
    assert count(app, User) == 1


# -- B-02 iss ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param(lambda issuer: issuer + "x", id="suffix"),
        pytest.param(lambda issuer: issuer + "/", id="trailing-slash"),
        pytest.param(lambda issuer: issuer.replace("http://", "https://"), id="https"),
        pytest.param(lambda issuer: issuer.upper(), id="upper-case"),
        pytest.param(lambda issuer: "https://evil.example", id="other"),
    ],
)
def test_an_id_token_from_another_issuer_is_refused(flow, misbehave, app, issuer):
    misbehave.id_token_claims(iss=issuer(misbehave.issuer))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_iss")


# -- B-03 sub ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sub",
    [
        pytest.param(DROP, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(12345, id="number"),
        pytest.param(["alice"], id="list"),
        pytest.param("x" * 256, id="too-long"),
    ],
)
def test_an_id_token_without_a_usable_subject_is_refused(flow, misbehave, app, sub):
    misbehave.id_token_claims(sub=sub)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_sub")


# -- B-04 / B-05 aud and azp -----------------------------------------------------------------


def test_an_id_token_for_another_client_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(aud=CLIENT_ID + "1")
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_aud")


def test_an_id_token_without_an_audience_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(aud=DROP)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_aud")


def test_an_id_token_also_meant_for_an_untrusted_audience_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(aud=[CLIENT_ID, "untrusted-rp"], azp=CLIENT_ID)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_untrusted_audience")


def test_an_id_token_for_other_audiences_is_refused_even_if_azp_names_us(flow, misbehave, app):
    misbehave.id_token_claims(aud=["other-rp", "x"], azp=CLIENT_ID)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_aud")


def test_an_id_token_authorized_for_another_party_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(azp="other-rp")
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_azp")


# -- B-06 time claims ------------------------------------------------------------------------


def test_an_id_token_without_iat_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(iat=DROP)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_iat")


def test_an_id_token_issued_an_hour_in_the_future_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(iat=int(time.time()) + 3600)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_iat")


def test_an_expired_id_token_is_refused(flow, misbehave, app):
    now = int(time.time())
    misbehave.id_token_claims(iat=now - 7200, exp=now - 3600)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_exp")


def test_an_id_token_not_valid_before_an_hour_from_now_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(nbf=int(time.time()) + 3600)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_nbf")


# -- B-07 / B-08 kid -----------------------------------------------------------------------------


def test_an_id_token_without_kid_is_accepted_when_the_jwks_has_one_key(flow, misbehave, app):
    misbehave.id_token_header(kid=DROP)
    response = flow.sign_in()
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"
    assert count(app, User) == 1


def test_an_id_token_without_kid_among_several_keys_is_refused_not_a_server_error(
    flow, misbehave, app
):
    # Trying every key would also be correct; this client refuses to guess, cleanly.
    misbehave.jwks(lambda jwks: {"keys": [public_jwk(new_rsa_key()), *jwks["keys"]]})
    misbehave.id_token_header(kid=DROP)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_unknown_key")


# -- B-09 .. B-11 signature and algorithm --------------------------------------------------------


def test_an_id_token_with_a_corrupted_signature_is_refused(flow, misbehave, app):
    def corrupt(token: str) -> str:
        head, body, signature = token.split(".")
        flipped = "A" if signature[10] != "A" else "B"
        return f"{head}.{body}.{signature[:10]}{flipped}{signature[11:]}"

    misbehave.id_token(corrupt)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_bad_signature")


def test_an_id_token_with_claims_changed_after_signing_is_refused(flow, misbehave, app):
    def tamper(token: str) -> str:
        head, _, signature = token.split(".")
        return f"{head}.{segment({**read(token)[1], 'sub': 'bob'})}.{signature}"

    misbehave.id_token(tamper)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_bad_signature")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_id_token_is_refused(flow, misbehave, app, alg):
    misbehave.id_token(lambda token: forge({**read(token)[0], "alg": alg}, read(token)[1]))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_algorithm_not_allowed")


def test_an_id_token_signed_with_ps512_is_refused_as_not_pinned(flow, misbehave, app):
    # A valid signature by the provider's own key, but with an algorithm nobody configured.
    misbehave.id_token_header(alg="PS512")
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_algorithm_not_allowed")


def test_an_id_token_hmac_signed_with_the_client_secret_is_refused(flow, misbehave, app):
    secret = CLIENT_SECRET.encode()
    misbehave.id_token(lambda token: misbehave.resign(token, header={"alg": "HS256"}, key=secret))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_algorithm_not_allowed")


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_an_id_token_hmac_signed_with_the_provider_public_key_is_refused(
    flow, misbehave, app, form
):
    # CVE-2024-37568: a verifier that lets the token pick HS256 would use the public key,
    # which everyone has, as the HMAC secret.
    public = misbehave.key.as_dict(private=False)
    secret = misbehave.key.as_pem(private=False) if form == "pem" else json.dumps(public).encode()
    misbehave.id_token(lambda token: misbehave.resign(token, header={"alg": "HS256"}, key=secret))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_algorithm_not_allowed")


# -- B-12 nonce ----------------------------------------------------------------------------------


def test_an_id_token_with_an_altered_nonce_is_refused(flow, misbehave, app):
    misbehave.id_token(
        lambda token: misbehave.resign(token, {"nonce": read(token)[1]["nonce"] + "x"})
    )
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_nonce")


def test_an_id_token_without_a_nonce_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(nonce=DROP)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_nonce")


def test_an_id_token_saying_nonces_are_unsupported_is_still_checked(flow, misbehave, app):
    # PYSEC-2026-4357: a claim inside the token must not switch off a check on that token.
    misbehave.id_token_claims(nonce="wrong", nonce_supported=False)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_nonce")


def test_an_id_token_carrying_another_sign_in_nonce_is_refused(flow, misbehave, provider, app):
    # Token injection: the ID token was minted for the browser's other, still pending sign-in.
    other_tab, this_tab = flow.start(), flow.start()
    misbehave.id_token_claims(nonce=query(other_tab)["nonce"])
    response = flow.client.get(flow.authorize(this_tab))
    assert_refused(response, 400, "id_token_invalid_nonce")
    assert provider.recorder.calls("/userinfo") == []
    assert_nothing_stored(app, flow.client, pending=1)


# -- B-13 headers that choose their own key ------------------------------------------------------


def test_an_id_token_carrying_its_own_jwk_is_refused(flow, misbehave, app):
    # CVE-2026-27962 / CVE-2022-39175: signed by the attacker, with the attacker's key attached.
    attacker = new_rsa_key()
    header = {"kid": attacker.kid, "jwk": public_jwk(attacker)}
    misbehave.id_token(lambda token: misbehave.resign(token, header=header, key=attacker))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_header_not_allowed")


def test_an_id_token_carrying_its_own_jwk_under_the_provider_kid_is_refused(flow, misbehave, app):
    attacker = new_rsa_key(kid=misbehave.key.kid)
    header = {"jwk": public_jwk(attacker)}
    misbehave.id_token(lambda token: misbehave.resign(token, header=header, key=attacker))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_header_not_allowed")


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_an_id_token_pointing_at_its_own_key_url_is_refused_without_fetching_it(
    flow, misbehave, provider, app, member
):
    attacker = new_rsa_key()
    # The attacker's key set is really served there, so a client that fetched it would verify.
    provider.recorder.fail("/attacker-jwks", 200, {"keys": [public_jwk(attacker)]}, times=10)
    header = {"kid": attacker.kid, member: misbehave.issuer + "/attacker-jwks"}
    misbehave.id_token(lambda token: misbehave.resign(token, header=header, key=attacker))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_header_not_allowed")
    assert provider.recorder.calls("/attacker-jwks") == []


def test_an_id_token_with_an_unknown_critical_header_is_refused(flow, misbehave, app):
    # CVE-2025-59420: a `crit` member the verifier does not understand makes the token invalid.
    misbehave.id_token_header(crit=["x-unknown"], **{"x-unknown": True})
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_header_not_allowed")


# -- B-14 / B-15 token type and size -------------------------------------------------------------


def test_an_encrypted_five_part_id_token_is_refused(flow, misbehave, app):
    # CVE-2022-39174: JWE is not configured, so a JWE must not even reach a decrypter.
    header = segment({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": misbehave.key.kid})
    parts = [b64url(bytes(n)) for n in (256, 12, 64, 16)]
    misbehave.id_token(lambda token: ".".join([header, *parts]))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_malformed")


def test_an_access_token_jwt_sent_as_id_token_is_refused(flow, misbehave, app):
    misbehave.id_token_header(typ="at+jwt")
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_wrong_type")


def test_a_five_megabyte_id_token_is_refused_quickly(flow, misbehave, app):
    # CVE-2025-61920: an oversized token is refused before any JOSE parsing.
    callback_url = flow.authorize(flow.start())
    misbehave.id_token_claims(padding="x" * 5_000_000)
    started = time.monotonic()
    response = flow.client.get(callback_url)
    elapsed = time.monotonic() - started
    assert_refused_before_any_api_call(response, app, flow, "id_token_too_large")
    assert elapsed < 2


@pytest.mark.parametrize(
    "id_token",
    [
        pytest.param("not-a-jwt", id="one-part"),
        pytest.param("a.b", id="two-parts"),
        pytest.param("!!!.@@@.###", id="not-base64"),
        pytest.param(b64url(b"[1]") + ".e30.", id="header-not-an-object"),
        pytest.param(12345, id="number"),
    ],
)
def test_a_garbled_id_token_is_refused(flow, misbehave, app, id_token):
    misbehave.id_token(lambda token: id_token)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_malformed")


# -- B-16 at_hash --------------------------------------------------------------------------------


def test_an_id_token_whose_at_hash_does_not_match_the_access_token_is_refused(flow, misbehave, app):
    misbehave.id_token_claims(at_hash=b64url(b"not the hash of this access token"))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_at_hash")


def test_an_at_hash_under_an_algorithm_without_a_known_hash_fails_closed(flow, misbehave, app):
    # Signed RS256 as pinned, but the claim cannot be checked against anything: refuse.
    misbehave.id_token_claims(at_hash=12345)
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_at_hash")


def sign_with_ed25519(misbehave, app, alg: str, at_hash, access_token: str | None = None) -> None:
    """The provider signs its next ID token with an Ed25519 key it publishes, under `alg`, with
    `at_hash(access token)` as its at_hash (and `access_token` in place of its own, if given);
    the client pins `alg` for it (FAPI 2.0 pins EdDSA)."""
    key = OKPKey.generate_key("Ed25519", parameters={"alg": alg, "use": "sig"}, auto_kid=True)
    misbehave.jwks(lambda document: {"keys": [key.as_dict(private=False)]})

    def resign(token: dict) -> dict:
        issued = access_token or token["access_token"]
        claims = {**read(token["id_token"])[1], "at_hash": at_hash(issued)}
        header = {"alg": alg, "kid": key.kid}
        signed = jwt.encode(header, claims, key, algorithms=[alg])
        return {**token, "access_token": issued, "id_token": signed}

    misbehave.token_response(resign)
    providers = app.extensions["providers"]
    providers["demo"] = dataclasses.replace(providers["demo"], id_token_algorithms=(alg,))


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_an_ed25519_signed_id_token_binds_its_access_token_with_sha512(flow, misbehave, app, alg):
    # OpenID Connect Token Hash Algorithms 1.0: SHA-512 with an Ed25519 key, under either name.
    sign_with_ed25519(misbehave, app, alg, lambda token: half_hash(token, hashlib.sha512))
    assert flow.sign_in().headers["Location"] == "/profile"
    assert count(app, User) == 1


# The example in oidc-token-hash's README (the library openid-client and oidc-provider compute
# hash claims with): an access token and its at_hash for EdDSA with an Ed25519 key.
PUBLISHED_ACCESS_TOKEN = (
    "YmJiZTAwYmYtMzgyOC00NzhkLTkyOTItNjJjNDM3MGYzOWIy9sFhvH8K_x8UIHj1osisS57f5DduL-ar_qw5jl3l"
    "thwpMjm283aVMQXDmoqqqydDSqJfbhptzw8rUVwkuQbolw"
)
PUBLISHED_ED25519_AT_HASH = "EGEAhGYyfuwDaVTifvrWSoD5MSy_5hZPy6I7Vm-7pTQ"


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_an_ed25519_at_hash_matches_the_published_example(flow, misbehave, app):
    # The provider answers with the example's access token and at_hash, which the client must
    # compute alike to accept the ID token. The token itself is not one the provider issued, so
    # the API call after it is what refuses the sign-in (an at_hash mismatch would come first).
    sign_with_ed25519(
        misbehave, app, "EdDSA", lambda token: PUBLISHED_ED25519_AT_HASH, PUBLISHED_ACCESS_TOKEN
    )
    answer = flow.sign_in()
    assert_refused(answer, 400, "api_token_rejected")


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_an_ed25519_signed_id_token_with_a_sha256_at_hash_is_refused(flow, misbehave, app, alg):
    sign_with_ed25519(misbehave, app, alg, lambda token: half_hash(token, hashlib.sha256))
    assert_refused_before_any_api_call(flow.sign_in(), app, flow, "id_token_invalid_at_hash")


def test_a_genuine_at_hash_is_accepted(flow, misbehave, app):
    seen = []

    def observe(token: str) -> str:
        seen.append(read(token)[1])
        return token

    misbehave.id_token(observe)
    assert flow.sign_in().status_code == 303
    assert "at_hash" in seen[0]


# -- B-17 userinfo ---------------------------------------------------------------------------


def test_userinfo_about_another_subject_is_refused(flow, misbehave, app):
    misbehave.userinfo(lambda claims: {**claims, "sub": "someone-else"})
    assert_refused(flow.sign_in(), 400, "userinfo_sub_mismatch")
    assert_nothing_stored(app, flow.client)


def test_userinfo_without_a_subject_is_refused(flow, misbehave, app):
    misbehave.userinfo(lambda claims: {k: v for k, v in claims.items() if k != "sub"})
    assert_refused(flow.sign_in(), 400, "userinfo_sub_mismatch")
    assert_nothing_stored(app, flow.client)


def test_userinfo_that_is_not_an_object_is_refused(flow, misbehave, app):
    misbehave.userinfo(lambda claims: [claims])
    assert_refused(flow.sign_in(), 400, "userinfo_sub_mismatch")
    assert_nothing_stored(app, flow.client)


def test_userinfo_that_is_not_json_is_a_provider_failure(flow, provider, app):
    provider.recorder.fail("/userinfo", 200, "<html><body>Welcome!</body></html>")
    assert_refused(flow.sign_in(), 502, "api_not_json")
    assert_nothing_stored(app, flow.client)


def test_userinfo_server_error_is_a_provider_failure(flow, provider, app):
    provider.recorder.fail("/userinfo", 500, {"error": "server_error"})
    assert_refused(flow.sign_in(), 502, "api_http_500")
    assert_nothing_stored(app, flow.client)


# -- B-22 ID tokens that come back with a refresh ------------------------------------------------


def signed_in_with_an_expired_access_token(flow, app) -> None:
    assert flow.sign_in().status_code == 303
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_a_refresh_whose_id_token_is_re_signed_unchanged_still_works(
    flow, misbehave, provider, client, app
):
    # The control for the test below: the refresh response does carry an ID token, and the
    # harness's re-signing alone is accepted.
    signed_in_with_an_expired_access_token(flow, app)
    misbehave.id_token(misbehave.resign)
    assert "Wonderland" in client.get("/profile").get_data(as_text=True)
    assert len(provider.recorder.token_requests("refresh_token")) == 1


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"sub": "someone-else"}, id="other-sub"),
        pytest.param({"iss": "https://evil.example"}, id="other-iss"),
        pytest.param({"aud": "other-rp"}, id="other-aud"),
    ],
)
def test_a_refresh_whose_id_token_names_someone_else_needs_reconnecting(
    flow, misbehave, provider, client, app, claims
):
    signed_in_with_an_expired_access_token(flow, app)
    provider.recorder.clear()
    misbehave.id_token_claims(**claims)

    page = client.get("/profile")

    assert page.status_code == 200
    assert "Reconnect needed" in page.get_data(as_text=True)
    assert len(provider.recorder.token_requests("refresh_token")) == 1
    # The tokens from that refresh were never used.
    assert provider.recorder.calls("/api/profile") == []
    assert provider.recorder.calls("/userinfo") == []
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        assert link.status == LinkStatus.RECONNECT_NEEDED
        assert link.access_token_ciphertext is None
