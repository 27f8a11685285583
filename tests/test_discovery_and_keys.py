"""What the provider publishes about itself, misbehaving (security-checklist B-19 to B-21): a
discovery document for another issuer or with unsafe endpoints, a JWKS that fails, rotates, or
holds keys not meant for signatures; and tokens with random key ids trying to cause a fetch storm.
"""

from __future__ import annotations

import time

import pytest

from models import User
from oauth import metadata
from tests.forms import csrf_token
from tests.misbehaving import (
    MisbehavingProvider,
    assert_nothing_stored,
    assert_refused,
    count,
    new_rsa_key,
    public_jwk,
    random_kid,
)


@pytest.fixture
def misbehave(provider):
    return MisbehavingProvider(provider)


class Clock:
    """Monotonic time for the metadata cache that a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(metadata, "time", clock)
    return clock


def start_sign_in(client):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login/demo", data={"csrf_token": csrf_token(page)})


def jwks_fetches(provider) -> int:
    return len(provider.recorder.calls("/jwks.json"))


# -- B-19 discovery issuer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param(lambda issuer: issuer + "/", id="trailing-slash"),
        pytest.param(lambda issuer: issuer + "/other", id="other-path"),
        pytest.param(lambda issuer: "https://evil.example", id="other-host"),
    ],
)
def test_a_discovery_document_for_another_issuer_stops_sign_in_before_the_redirect(
    client, misbehave, provider, app, issuer
):
    misbehave.discovery(lambda document: {**document, "issuer": issuer(provider.issuer)})
    response = start_sign_in(client)
    assert_refused(response, 503, "issuer_mismatch")
    assert "administrator" in response.get_data(as_text=True)
    assert provider.recorder.calls("/authorize") == []
    assert_nothing_stored(app, client)


def test_a_discovery_document_without_a_jwks_uri_stops_sign_in(client, misbehave, provider, app):
    misbehave.discovery(lambda document: {k: v for k, v in document.items() if k != "jwks_uri"})
    assert_refused(start_sign_in(client), 503, "discovery_incomplete")
    assert provider.recorder.calls("/authorize") == []
    assert_nothing_stored(app, client)


@pytest.mark.parametrize(
    ("status", "body", "page_status", "reason"),
    [
        pytest.param(500, {"error": "oops"}, 502, "discovery_http_500", id="500"),
        pytest.param(200, "<h1>Maintenance</h1>", 503, "discovery_not_json", id="html"),
    ],
)
def test_a_failing_discovery_endpoint_stops_sign_in_cleanly(
    client, provider, app, status, body, page_status, reason
):
    provider.recorder.fail("/.well-known/openid-configuration", status, body)
    assert_refused(start_sign_in(client), page_status, reason)
    assert provider.recorder.calls("/authorize") == []
    assert_nothing_stored(app, client)


# -- B-20 endpoints named by discovery -----------------------------------------------------------


def test_a_jwks_uri_moved_by_the_provider_is_followed(flow, misbehave, provider, app):
    moved = "/keys/v2"
    misbehave.discovery(lambda document: {**document, "jwks_uri": provider.issuer + moved})
    provider.recorder.fail(moved, 200, {"keys": [public_jwk(misbehave.key)]}, times=5)
    assert flow.sign_in().status_code == 303
    assert len(provider.recorder.calls(moved)) == 1
    assert jwks_fetches(provider) == 0
    assert count(app, User) == 1


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        # PYSEC-2026-4354: the host is what follows the "@", not the issuer in front of it.
        pytest.param("jwks_uri", "{issuer}@127.0.0.1:9/jwks.json", id="jwks-userinfo-spoof"),
        pytest.param("token_endpoint", "{issuer}@127.0.0.1:9/token", id="token-userinfo-spoof"),
        pytest.param("jwks_uri", "file:///etc/passwd", id="jwks-file"),
        pytest.param("userinfo_endpoint", "ftp://127.0.0.1/userinfo", id="userinfo-ftp"),
        pytest.param("token_endpoint", "/token", id="token-relative"),
        pytest.param("revocation_endpoint", "http://[::1/revoke", id="revocation-unparsable"),
        pytest.param("profile_endpoint", ["{issuer}/api/profile"], id="profile-not-a-string"),
    ],
)
def test_a_discovery_document_with_an_unsafe_endpoint_stops_sign_in(
    client, misbehave, provider, app, endpoint, url
):
    if isinstance(url, str):
        url = url.format(issuer=provider.issuer)
    misbehave.discovery(lambda document: {**document, endpoint: url})
    assert_refused(start_sign_in(client), 503, "discovery_unsafe_endpoint")
    assert provider.recorder.calls("/authorize") == []
    assert_nothing_stored(app, client)


# -- B-21 keys: rotation, fetch storms, failures ---------------------------------------------


@pytest.mark.parametrize(
    "seconds_after_the_fetch",
    [
        # Later: past the refetch interval.
        pytest.param(lambda app: app.config["JWKS_MIN_REFETCH_INTERVAL"] + 1, id="later"),
        # A second after the app fetched its keys: well inside the refetch interval, yet the
        # first unknown key id must be looked up, not refused for a minute.
        pytest.param(lambda app: 1, id="just-after-the-fetch"),
    ],
)
def test_a_rotated_signing_key_is_accepted_after_exactly_one_jwks_refetch(
    flow, misbehave, provider, app, clock, seconds_after_the_fetch
):
    assert flow.sign_in().status_code == 303
    assert jwks_fetches(provider) == 1
    # The provider publishes a new key and signs with it.
    clock.advance(seconds_after_the_fetch(app))
    new_key = new_rsa_key()
    misbehave.rotate_key(new_key)
    misbehave.id_token(
        lambda token: misbehave.resign(token, header={"kid": new_key.kid}, key=new_key)
    )
    flow.browser.http.cookies.clear()

    response = flow.sign_in("bob")

    assert response.status_code == 303
    assert jwks_fetches(provider) == 2
    assert count(app, User) == 2


def test_random_key_ids_right_after_a_fetch_cause_one_refetch_per_interval(
    flow, misbehave, provider, app, clock
):
    assert flow.sign_in().status_code == 303
    attacker = new_rsa_key()
    for _ in range(10):
        clock.advance(1)
        misbehave.id_token(
            lambda token: misbehave.resign(token, header={"kid": random_kid()}, key=attacker)
        )
        callback_url = flow.authorize(flow.start())
        assert_refused(flow.client.get(callback_url), 400, "id_token_unknown_key")
    assert jwks_fetches(provider) == 2
    # Once the interval has passed, an unknown key id may be looked up once more.
    clock.advance(app.config["JWKS_MIN_REFETCH_INTERVAL"])
    misbehave.id_token(
        lambda token: misbehave.resign(token, header={"kid": random_kid()}, key=attacker)
    )
    assert_refused(flow.client.get(flow.authorize(flow.start())), 400, "id_token_unknown_key")
    assert jwks_fetches(provider) == 3


def test_random_key_ids_cause_at_most_one_jwks_refetch_per_interval(
    flow, misbehave, provider, app, clock
):
    assert flow.sign_in().status_code == 303
    clock.advance(app.config["JWKS_MIN_REFETCH_INTERVAL"] + 1)
    attacker = new_rsa_key()
    for _ in range(20):
        misbehave.id_token(
            lambda token: misbehave.resign(token, header={"kid": random_kid()}, key=attacker)
        )
        callback_url = flow.authorize(flow.start())
        assert_refused(flow.client.get(callback_url), 400, "id_token_unknown_key")
    # One fetch for the first sign-in, one refetch for the first unknown kid, then none.
    assert jwks_fetches(provider) == 2
    assert len(provider.recorder.calls("/userinfo")) == 1


@pytest.mark.parametrize(
    ("status", "body", "page_status", "reason"),
    [
        pytest.param(500, {"error": "oops"}, 502, "jwks_http_500", id="500"),
        pytest.param(200, "<h1>Maintenance</h1>", 503, "jwks_not_json", id="html"),
        pytest.param(200, {"keys": "none"}, 503, "jwks_malformed", id="keys-not-a-list"),
        pytest.param(
            200, {"keys": [{"kty": "RSA", "n": "x"}]}, 503, "jwks_malformed", id="bad-key"
        ),
    ],
)
def test_a_failing_jwks_endpoint_ends_on_a_clean_page(
    flow, provider, app, status, body, page_status, reason
):
    callback_url = flow.authorize(flow.start())
    provider.recorder.fail("/jwks.json", status, body)
    assert_refused(flow.client.get(callback_url), page_status, reason)
    assert provider.recorder.calls("/userinfo") == []
    assert_nothing_stored(app, flow.client)


def test_a_key_published_for_encryption_is_never_used_to_verify(flow, misbehave, provider, app):
    # The provider's key, marked for encryption only, beside an unrelated signing key.
    misbehave.jwks(
        lambda jwks: {
            "keys": [public_jwk(new_rsa_key()), *({**key, "use": "enc"} for key in jwks["keys"])]
        }
    )
    assert_refused(flow.sign_in(), 400, "id_token_unknown_key")
    assert provider.recorder.calls("/userinfo") == []
    assert_nothing_stored(app, flow.client)


def test_a_key_published_for_another_algorithm_is_never_used_to_verify(
    flow, misbehave, provider, app
):
    misbehave.jwks(lambda jwks: {"keys": [{**key, "alg": "RS512"} for key in jwks["keys"]]})
    assert_refused(flow.sign_in(), 400, "id_token_unknown_key")
    assert provider.recorder.calls("/userinfo") == []
    assert_nothing_stored(app, flow.client)
