"""How the app proves itself to a provider: private_key_jwt with its own keys (published at
/.well-known/jwks.json, never a private member), and the per-provider switches
`<NAME>_CLIENT_AUTH`, `<NAME>_PAR`, `<NAME>_DPOP` and `<NAME>_PROFILE`, checked at start-up.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from joserfc import jwt
from joserfc.jwk import KeySet

import oauth
from app import create_app
from config import ConfigurationError
from models import LoginAttempt, User
from oauth import client_keys
from tests.conftest import CLIENT_SIGNING_KEYS, KEY_CLIENT_ID, client_config
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import MisbehavingProvider, assert_refused, count
from tests.test_app import PRODUCTION
from tests.test_par import start

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


class TestPrivateKeyJwt:
    @pytest.fixture
    def app_overrides(self):
        return {
            "DEMO_CLIENT_ID": KEY_CLIENT_ID,
            "DEMO_CLIENT_SECRET": None,
            "DEMO_CLIENT_AUTH": "private_key_jwt",
            "CLIENT_SIGNING_KEYS": CLIENT_SIGNING_KEYS,
        }

    def test_sign_in_sends_a_signed_assertion_and_no_secret(self, flow, provider, app):
        assert flow.sign_in("alice").headers["Location"] == "/profile"
        assert count(app, User) == 1

        (token_request,) = provider.recorder.token_requests("authorization_code")
        form = {name: values[0] for name, values in token_request.form.items()}
        assert token_request.authorization is None  # no Basic credentials
        assert "client_secret" not in form
        assert form["client_assertion_type"] == (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        keys = KeySet.import_key_set(
            client_keys.public_jwks(client_keys.parse(CLIENT_SIGNING_KEYS))
        )
        claims = jwt.decode(form["client_assertion"], keys, algorithms=["ES256"]).claims
        assert claims["iss"] == claims["sub"] == KEY_CLIENT_ID
        assert claims["aud"] == provider.issuer  # the issuer, as FAPI 2.0 asks
        assert 0 < claims["exp"] - claims["iat"] <= 60

    def test_each_request_gets_an_assertion_of_its_own(self, flow, provider, app, client):
        flow.sign_in("alice")
        page = client.get("/profile").get_data(as_text=True)
        client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
        assertions = [
            request.form["client_assertion"][0]
            for request in provider.recorder.calls("/token")
            if "client_assertion" in request.form
        ]
        assert len(assertions) == 2
        ids = {json.loads(_payload(a))["jti"] for a in assertions}
        assert len(ids) == 2

    def test_the_public_keys_are_published_without_private_members(self, client):
        answer = client.get("/.well-known/jwks.json")
        assert answer.status_code == 200
        keys = answer.get_json()["keys"]
        assert len(keys) == 1
        assert not PRIVATE_MEMBERS & set(keys[0])
        assert keys[0]["use"] == "sig"
        assert "max-age" in answer.headers["Cache-Control"]


def _payload(token: str) -> str:
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def test_development_generates_a_signing_key_into_the_instance_folder(app, client):
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert keys[0]["kty"] == "EC"
    stored = json.loads((Path(app.instance_path) / "client-signing-keys.json").read_text())
    assert client_keys.parse(stored["CLIENT_SIGNING_KEYS"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"DEMO_CLIENT_AUTH": "client_secret_jwt"}, "DEMO_CLIENT_AUTH must be one of"),
        ({"DEMO_PAR": "yes"}, "DEMO_PAR must be one of"),
        ({"DEMO_DPOP": "always"}, "DEMO_DPOP must be one of"),
        ({"DEMO_PROFILE": "fapi1"}, "DEMO_PROFILE must be one of"),
        ({"DEMO_PROFILE": "fapi2", "DEMO_PAR": "off"}, "remove DEMO_PAR=off"),
        ({"CLIENT_SIGNING_KEYS": '{"keys": []}'}, "CLIENT_SIGNING_KEYS"),
    ],
)
def test_a_bad_security_setting_stops_start_up_with_what_to_change(
    tmp_path, provider, settings, message
):
    with pytest.raises(ConfigurationError, match=message):
        create_app(client_config(tmp_path, provider.issuer, **settings))


def test_private_key_jwt_in_production_needs_client_signing_keys(tmp_path, provider):
    settings = {
        **PRODUCTION,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DEMO_CLIENT_AUTH": "private_key_jwt",
        "DEMO_CLIENT_SECRET": None,
    }
    with pytest.raises(ConfigurationError, match="CLIENT_SIGNING_KEYS is not set"):
        create_app(client_config(tmp_path, provider.issuer, **settings))


def test_fapi2_sets_every_switch_at_once(tmp_path, provider):
    app = create_app(
        client_config(
            tmp_path,
            provider.issuer,
            DEMO_PROFILE="fapi2",
            DEMO_CLIENT_SECRET=None,
            CLIENT_SIGNING_KEYS=CLIENT_SIGNING_KEYS,
        )
    )
    demo = app.extensions["providers"]["demo"]
    assert (demo.client_auth, demo.par, demo.dpop) == ("private_key_jwt", "required", "required")
    assert demo.client_secret == ""  # never sent, so never kept
    assert set(demo.id_token_algorithms) == {"PS256", "ES256", "Ed25519", "EdDSA"}
    assert demo.require_authorization_response_iss


class TestRequiredFeaturesTheProviderLacks:
    @pytest.fixture
    def app_overrides(self):
        return {"DEMO_DPOP": "required", "DEMO_PAR": "required"}

    def test_providers_check_says_what_is_missing(self, app):
        result = app.test_cli_runner().invoke(args=["providers", "--check"])
        assert result.exit_code == 1
        assert "par_not_supported" in result.output
        assert "does not offer pushed authorization requests" in result.output


def test_providers_check_says_when_the_client_authentication_is_not_accepted(app, provider):
    MisbehavingProvider(provider).discovery(
        lambda document: {**document, "token_endpoint_auth_methods_supported": ["none"]}
    )
    result = app.test_cli_runner().invoke(args=["providers", "--check"])
    assert "client_auth_not_supported" in result.output


class TestTheClientKeysAlgorithm:
    """RFC 9864 split EdDSA into two names: `providers --check` says when the provider takes
    assertions under neither the name nor the algorithm this site's key signs with."""

    @pytest.fixture
    def app_overrides(self):
        return {
            "DEMO_CLIENT_SECRET": None,
            "DEMO_CLIENT_AUTH": "private_key_jwt",
            "CLIENT_SIGNING_KEYS": client_keys.generate("EdDSA"),
        }

    @staticmethod
    def check(app, provider, listed: list[str]):
        MisbehavingProvider(provider).discovery(
            lambda document: {
                **document,
                "token_endpoint_auth_signing_alg_values_supported": listed,
            }
        )
        return app.test_cli_runner().invoke(args=["providers", "--check"])

    def test_a_provider_that_lists_the_keys_algorithm_passes(self, app, provider):
        result = self.check(app, provider, ["ES256", "EdDSA"])
        assert result.exit_code == 0, result.output
        assert "client_key_algorithm_not_supported" not in result.output

    def test_the_other_name_of_the_same_algorithm_is_named_in_the_advice(self, app, provider):
        result = self.check(app, provider, ["ES256", "Ed25519"])
        assert result.exit_code == 1
        assert "client_key_algorithm_not_supported" in result.output
        assert "signed with EdDSA" in result.output
        assert 'Give the key "alg": "Ed25519" in CLIENT_SIGNING_KEYS.' in result.output

    def test_only_the_names_this_client_knows_are_repeated(self, app, provider):
        result = self.check(app, provider, ["RS256", "\x1b[31mHS256"])
        assert result.exit_code == 1
        assert "it lists none this client signs with" in result.output
        assert "HS256" not in result.output
        assert "CLIENT_SIGNING_KEYS" not in result.output


class TestAProviderThatRefusesTheAssertion:
    @pytest.fixture
    def app_overrides(self):
        # Keys the provider never saw: its signature check fails.
        return {
            "DEMO_CLIENT_ID": KEY_CLIENT_ID,
            "DEMO_CLIENT_SECRET": None,
            "DEMO_CLIENT_AUTH": "private_key_jwt",
            "CLIENT_SIGNING_KEYS": client_keys.generate(),
        }

    def test_the_sign_in_ends_on_a_clear_page_and_stores_nothing(self, flow, client, app):
        answer = client.get(flow.authorize(flow.start()))
        assert_refused(answer, 400, "token_invalid_client")
        assert count(app, User) == 0


class TestFapi2Limits:
    """What FAPI 2.0 bounds beyond the switches: the lifetime of a pushed request's handle, and
    how far ahead of this clock a provider's JWT may be stamped."""

    @pytest.fixture
    def app_overrides(self):
        return {
            "DEMO_CLIENT_ID": KEY_CLIENT_ID,
            "DEMO_CLIENT_SECRET": None,
            "DEMO_PROFILE": "fapi2",
            "CLIENT_SIGNING_KEYS": CLIENT_SIGNING_KEYS,
            "ID_TOKEN_LEEWAY": 300,
        }

    @pytest.fixture
    def fapi2_provider(self, provider):
        MisbehavingProvider(provider).discovery(
            lambda document: {
                **document,
                "pushed_authorization_request_endpoint": provider.issuer + "/par",
                "dpop_signing_alg_values_supported": ["ES256"],
            }
        )
        return provider

    @pytest.mark.parametrize("expires_in", [600, 3600, None, "60", 0])
    def test_a_request_uri_that_lives_too_long_stops_the_sign_in(
        self, client, app, fapi2_provider, expires_in
    ):
        body = {"request_uri": "urn:ietf:params:oauth:request_uri:abc"}
        if expires_in is not None:
            body["expires_in"] = expires_in
        fapi2_provider.recorder.fail("/par", 201, body)
        answer = start(client)
        assert_refused(answer, answer.status_code, "par_lifetime_not_fapi2")
        assert count(app, LoginAttempt) == 0

    def test_a_short_lived_request_uri_is_used(self, client, fapi2_provider):
        fapi2_provider.recorder.fail(
            "/par", 201, {"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 60}
        )
        location = start(client).headers["Location"]
        assert set(query(location)) == {"client_id", "request_uri"}

    def test_clock_skew_is_held_within_ten_to_sixty_seconds(self, app):
        demo = app.extensions["providers"]["demo"]
        with app.app_context():
            assert oauth.jwt_leeway(demo) == 60  # ID_TOKEN_LEEWAY=300 is cut to FAPI's bound
            app.config["ID_TOKEN_LEEWAY"] = 0
            assert oauth.jwt_leeway(demo) == 10  # and 0 is raised to what FAPI asks to accept


def test_without_a_profile_the_configured_clock_skew_stands(app):
    app.config["ID_TOKEN_LEEWAY"] = 300
    with app.app_context():
        assert oauth.jwt_leeway(app.extensions["providers"]["demo"]) == 300
