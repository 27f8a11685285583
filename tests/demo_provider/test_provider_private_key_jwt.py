"""private_key_jwt client authentication (RFC 7523, OIDC Core section 9) at the demo provider: a
client registered with public keys (inline, or at its jwks_uri) authenticates at the token, PAR
and revocation endpoints with a JWT signed by its private key, and holds no secret."""

import json

import pytest
from werkzeug.wrappers import Request, Response

from demo_provider import client_keys, create_app, settings
from demo_provider.extensions import db
from demo_provider.models import Client
from tests.live_provider import LiveServer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "http://127.0.0.1:5001"
KEYED_CLIENT_ID = "keyed-app"
KEYED_REDIRECT_URI = "http://127.0.0.1:7000/callback"


def keyed_code(flow, **overrides):
    """Sign in and consent for the keyed client; returns (code, verifier)."""
    code, verifier, _ = flow.obtain_code(
        client_id=KEYED_CLIENT_ID, redirect_uri=KEYED_REDIRECT_URI, **overrides
    )
    return code, verifier


def redeem_with_assertion(flow, code, verifier, assertion, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": KEYED_REDIRECT_URI,
        "code_verifier": verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }
    return flow.client.post("/token", data=data)


@pytest.fixture
def keyed(provider_configured, client_key, keyed_client):
    """A provider with a private_key_jwt client registering `client_key` inline."""
    return provider_configured(clients=[keyed_client(client_key)])


def test_a_keyed_client_redeems_a_code_with_an_assertion(keyed, client_key):
    code, verifier = keyed_code(keyed)

    response = redeem_with_assertion(keyed, code, verifier, client_key.assertion())

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["token_type"] == "Bearer"
    assert body["id_token"]


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_an_ed25519_key_authenticates_under_either_name(
    provider_configured, make_client_key, keyed_client, alg
):
    key = make_client_key(alg=alg)
    flow = provider_configured(clients=[keyed_client(key)])
    code, verifier = keyed_code(flow)

    response = redeem_with_assertion(flow, code, verifier, key.assertion())

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["id_token"]


@pytest.mark.parametrize(
    "aud",
    [ISSUER, f"{ISSUER}/token", [f"{ISSUER}/token", "https://elsewhere.example"]],
    ids=["issuer", "token-endpoint", "list"],
)
def test_the_assertion_may_name_the_issuer_or_the_endpoint(keyed, client_key, aud):
    code, verifier = keyed_code(keyed)

    response = redeem_with_assertion(keyed, code, verifier, client_key.assertion(aud=aud))

    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_keyed_client_may_also_send_its_client_id(keyed, client_key):
    code, verifier = keyed_code(keyed)

    response = redeem_with_assertion(
        keyed, code, verifier, client_key.assertion(), client_id=KEYED_CLIENT_ID
    )

    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_keyed_client_refreshes_and_revokes_with_assertions(keyed, client_key):
    code, verifier = keyed_code(keyed)
    tokens = redeem_with_assertion(keyed, code, verifier, client_key.assertion()).get_json()
    auth = {"client_assertion_type": ASSERTION_TYPE}

    refreshed = keyed.client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_assertion": client_key.assertion(),
            **auth,
        },
    )
    revoked = keyed.client.post(
        "/revoke",
        data={
            "token": refreshed.get_json()["refresh_token"],
            "client_assertion": client_key.assertion(),
            **auth,
        },
    )

    assert refreshed.status_code == 200, refreshed.get_data(as_text=True)
    assert revoked.status_code == 200, revoked.get_data(as_text=True)


def test_a_keyed_client_pushes_an_authorization_request(keyed, client_key):
    verifier, challenge = keyed.pkce_pair()
    params = keyed.authorize_params(
        challenge, client_id=KEYED_CLIENT_ID, redirect_uri=KEYED_REDIRECT_URI
    )
    assertion = client_key.assertion(aud=f"{ISSUER}/par")

    pushed = keyed.client.post(
        "/par",
        data={**params, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
    )
    keyed.sign_in()
    reference = {"client_id": KEYED_CLIENT_ID, "request_uri": pushed.get_json()["request_uri"]}
    code = keyed.query(keyed.decide(reference).headers["Location"])["code"]

    assert pushed.status_code == 201, pushed.get_data(as_text=True)
    response = redeem_with_assertion(keyed, code, verifier, client_key.assertion())
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_keyed_client_has_no_secret_to_use(keyed):
    code, verifier = keyed_code(keyed)

    response = keyed.redeem(
        code, verifier, redirect_uri=KEYED_REDIRECT_URI, client_id=KEYED_CLIENT_ID, client_secret=""
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_a_secret_client_cannot_switch_to_an_assertion(keyed, client_key):
    code, verifier, _ = keyed.obtain_code()
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": keyed.redirect_uri,
        "code_verifier": verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_key.assertion(client_id=keyed.client_id),
    }

    response = keyed.client.post("/token", data=data)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_the_keys_are_fetched_from_the_jwks_uri(
    provider_configured, client_key, jwks_server, keyed_client
):
    jwks_server.keys = client_key.jwks()
    flow = provider_configured(clients=[keyed_client(jwks_uri=jwks_server.url + "/jwks.json")])
    code, verifier = keyed_code(flow)

    response = redeem_with_assertion(flow, code, verifier, client_key.assertion())

    assert response.status_code == 200, response.get_data(as_text=True)
    assert jwks_server.fetches == 1


def test_a_rotated_key_is_fetched_again(
    provider_configured, jwks_server, monkeypatch, keyed_client, make_client_key
):
    old, new = make_client_key(kid="old"), make_client_key(kid="new")
    jwks_server.keys = old.jwks()
    flow = provider_configured(clients=[keyed_client(jwks_uri=jwks_server.url + "/jwks.json")])
    code, verifier = keyed_code(flow)
    assert redeem_with_assertion(flow, code, verifier, old.assertion()).status_code == 200
    jwks_server.keys = new.jwks()
    monkeypatch.setattr(client_keys, "REFETCH_INTERVAL", 0)
    code, verifier = keyed_code(flow)

    response = redeem_with_assertion(flow, code, verifier, new.assertion())

    assert response.status_code == 200, response.get_data(as_text=True)
    assert jwks_server.fetches == 2


def test_an_unreachable_jwks_uri_fails_authentication_only(
    provider_configured, client_key, keyed_client
):
    flow = provider_configured(clients=[keyed_client(jwks_uri="http://127.0.0.1:9/jwks.json")])
    code, verifier = keyed_code(flow)

    response = redeem_with_assertion(flow, code, verifier, client_key.assertion())

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_required_private_key_jwt_refuses_secrets(provider_configured, client_key, keyed_client):
    flow = provider_configured(
        clients=[keyed_client(client_key)], DEMO_PROVIDER_REQUIRE_PRIVATE_KEY_JWT=True
    )
    code, verifier, _ = flow.obtain_code()

    with_secret = flow.redeem(code, verifier)
    code, verifier = keyed_code(flow)
    with_key = redeem_with_assertion(flow, code, verifier, client_key.assertion())
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert with_secret.status_code == 401
    assert with_secret.get_json()["error"] == "invalid_client"
    assert with_key.status_code == 200
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]


def test_discovery_advertises_private_key_jwt_and_its_algorithms(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    algorithms = metadata["token_endpoint_auth_signing_alg_values_supported"]
    assert set(algorithms) == {"ES256", "PS256", "RS256", "Ed25519", "EdDSA"}


def test_a_configured_keyed_client_needs_no_secret(client_key, tmp_path, keyed_client):
    resolved = settings.resolve(
        {"DEMO_PROVIDER_CLIENTS": [keyed_client(client_key)]}, str(tmp_path)
    )

    [client] = resolved["DEMO_PROVIDER_CLIENTS"]
    assert client["client_secret"] is None
    assert client["token_endpoint_auth_method"] == "private_key_jwt"


@pytest.mark.parametrize(
    "change",
    [
        {"jwks": None},
        {"jwks_uri": "https://app.example/jwks.json"},
        {"jwks": {"keys": []}},
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        {"token_endpoint_auth_method": "client_secret_jwt"},
    ],
    ids=["no-keys", "both", "empty", "symmetric", "unknown-method"],
)
def test_a_keyed_client_registration_is_checked(client_key, tmp_path, change, keyed_client):
    registration = {**keyed_client(client_key), **change}

    with pytest.raises(ValueError, match=KEYED_CLIENT_ID):
        settings.resolve({"DEMO_PROVIDER_CLIENTS": [registration]}, str(tmp_path))


def test_a_private_key_in_a_registered_jwks_is_refused(client_key, tmp_path, keyed_client):
    registration = keyed_client(jwks={"keys": [client_key.key.as_dict(private=True)]})

    with pytest.raises(ValueError, match="private key"):
        settings.resolve({"DEMO_PROVIDER_CLIENTS": [registration]}, str(tmp_path))


@pytest.mark.parametrize(
    "uri", ["http://app.example/jwks.json", "https://app.example/jwks.json#frag", "jwks.json"]
)
def test_an_unsafe_jwks_uri_is_refused(tmp_path, uri, keyed_client):
    with pytest.raises(ValueError, match="jwks_uri"):
        settings.resolve({"DEMO_PROVIDER_CLIENTS": [keyed_client(jwks_uri=uri)]}, str(tmp_path))


def test_the_environment_configures_a_keyed_client(monkeypatch, tmp_path):
    monkeypatch.setenv("DEMO_PROVIDER_CLIENT_ID", "env-keyed")
    monkeypatch.setenv("DEMO_PROVIDER_REDIRECT_URIS", "http://127.0.0.1:5000/callback/demo")
    monkeypatch.setenv("DEMO_PROVIDER_CLIENT_TOKEN_ENDPOINT_AUTH_METHOD", "private_key_jwt")
    monkeypatch.setenv(
        "DEMO_PROVIDER_CLIENT_JWKS_URI", "http://127.0.0.1:5000/.well-known/jwks.json"
    )

    app = create_app(instance_path=str(tmp_path / "instance"))

    [client] = app.config["DEMO_PROVIDER_CLIENTS"]
    assert client["token_endpoint_auth_method"] == "private_key_jwt"
    assert client["jwks_uri"] == "http://127.0.0.1:5000/.well-known/jwks.json"


def test_the_command_registers_a_keyed_client_without_a_secret(
    register_client, run_clients_command, demo_app
):
    registered = register_client("--jwks-uri", "http://127.0.0.1:8000/jwks.json")

    listed = run_clients_command("list")

    assert registered.client_secret is None
    assert "private_key_jwt" in registered.output
    assert "http://127.0.0.1:8000/jwks.json" in listed.output
    with demo_app.app_context():
        client = db.session.get(Client, registered.client_id)
        assert client.auth_methods == ("private_key_jwt",)
        assert client.client_secret_hash == ""


def test_the_command_refuses_private_key_jwt_without_keys(run_clients_command):
    result = run_clients_command(
        "register",
        "--name",
        "No Keys",
        "--redirect-uri",
        "http://127.0.0.1:8000/callback",
        "--token-endpoint-auth-method",
        "private_key_jwt",
    )

    assert result.exit_code != 0
    assert "jwks" in result.output


def test_the_command_registers_a_basic_only_client(register_client, demo_app):
    registered = register_client("--token-endpoint-auth-method", "client_secret_basic")

    assert registered.client_secret
    with demo_app.app_context():
        client = db.session.get(Client, registered.client_id)
        assert client.auth_methods == ("client_secret_basic",)


class JwksServer:
    """A client's key publication point: serves `keys` at /jwks.json and counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict = {"keys": []}
        self.fetches = 0
        self.url = ""

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path != "/jwks.json":
            return Response("", 404)(environ, start_response)
        self.fetches += 1
        body = json.dumps(self.keys)
        return Response(body, 200, mimetype="application/json")(environ, start_response)


@pytest.fixture(scope="module")
def live_jwks_server():
    publication = JwksServer()
    server = LiveServer(publication).start()
    publication.url = server.url
    yield publication
    server.stop()


@pytest.fixture
def jwks_server(live_jwks_server):
    live_jwks_server.keys = {"keys": []}
    live_jwks_server.fetches = 0
    return live_jwks_server
