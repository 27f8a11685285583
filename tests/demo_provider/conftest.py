"""Fixtures and helpers for testing the demo provider on its own: a provider app per test (fresh
instance folder and database), helpers that drive sign-in, consent and the token endpoint, the
connected applications page, and the `clients` command; client key pairs that sign DPoP proofs
and client assertions, and providers built with other settings. Two costs that no test here is
about are paid once: scrypt password hashing (except where a test is marked
`real_password_hashing`) and importing the same signing key file into a key object.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import itertools
import json
import re
import secrets
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey
from werkzeug.datastructures import MultiDict
from werkzeug.security import generate_password_hash

from demo_provider import create_app, preparation, prepare, signing, users
from demo_provider.extensions import db

ISSUER = "http://127.0.0.1:5001"
CLIENT_ID = "workshop-app"
CLIENT_SECRET = "workshop-secret-with-enough-entropy"
REDIRECT_URI = "http://127.0.0.1:5000/callback/demo"
OTHER_CLIENT_ID = "other-app"
OTHER_CLIENT_SECRET = "other-secret-with-enough-entropy"
OTHER_REDIRECT_URI = "http://127.0.0.1:6000/callback"
POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:5000/signed-out"
OTHER_POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:6000/signed-out"
FULL_SCOPE = "openid profile email offline_access"
# What the main client may ask for: all it asks for at sign-in, and contacts later on.
CLIENT_SCOPE = f"{FULL_SCOPE} contacts.read"
KEYED_CLIENT_ID = "keyed-app"
KEYED_REDIRECT_URI = "http://127.0.0.1:7000/callback"
# The consent form's field for each ticked scope.
GRANTED_FIELD = "granted_scope"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "real_password_hashing: the demo users' passwords are hashed with scrypt, as served",
    )


@pytest.fixture(autouse=True)
def quick_password_hashes(request, monkeypatch):
    """Demo users hashed with a cheap method: scrypt is slow on purpose, on every sign-in, and
    these tests are about what the provider does after a sign-in, not about hashing. Tests
    marked `real_password_hashing` keep scrypt."""
    if request.node.get_closest_marker("real_password_hashing"):
        return
    quick = functools.cache(lambda password: generate_password_hash(password, "pbkdf2:sha256:1"))
    monkeypatch.setattr(users, "_demo_password_hash", quick)
    monkeypatch.setattr(users, "_decoy_hash", lambda: quick("decoy"))


@pytest.fixture(autouse=True, scope="session")
def signing_key_files_read_once():
    """The same key file gives the same key object: turning a private JWK into a key checks its
    primes (about 50 ms), and every provider app built here reads the same file."""
    original = signing.load_or_create_key
    imported: dict[bytes, object] = {}

    def load_or_create_key(path: str):
        target = Path(path)
        content = target.read_bytes() if target.exists() else None
        if content not in imported:
            key = original(path)
            content = target.read_bytes()
            imported[content] = key
        return imported[content]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing, "load_or_create_key", load_or_create_key)
        yield


@pytest.fixture(scope="session")
def signing_key_path(tmp_path_factory):
    """One RSA key for the whole run: generating one per test is slow and tests nothing new."""
    return str(tmp_path_factory.mktemp("keys") / "signing-key.json")


def default_config(signing_key_path: str) -> dict:
    """Provider configuration with two registered clients, each with a post-logout URI."""
    return {
        "TESTING": True,
        "DEMO_PROVIDER_ISSUER": ISSUER,
        "DEMO_PROVIDER_SIGNING_KEY_PATH": signing_key_path,
        "DEMO_PROVIDER_ACCESS_TOKEN_TTL": 300,
        "DEMO_PROVIDER_CLIENTS": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [REDIRECT_URI],
                "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
                "client_name": "Workshop App",
                "scope": CLIENT_SCOPE,
            },
            {
                "client_id": OTHER_CLIENT_ID,
                "client_secret": OTHER_CLIENT_SECRET,
                "redirect_uris": [OTHER_REDIRECT_URI],
                "post_logout_redirect_uris": [OTHER_POST_LOGOUT_REDIRECT_URI],
                "client_name": "Other App",
            },
        ],
    }


@pytest.fixture
def demo_config(signing_key_path):
    """Provider configuration with two registered clients, each with a post-logout URI."""
    return default_config(signing_key_path)


@pytest.fixture(scope="session")
def prepared_instance(tmp_path_factory, signing_key_path) -> Path:
    """An instance folder whose database is prepared (tables, demo users with cheap hashes, the
    configured clients) and whose cookie key exists, made once per test process. Preparing is
    idempotent, as for a provider restarted on its database: each test's own `prepare` then
    brings the copy in line with that test's configuration."""
    folder = tmp_path_factory.mktemp("prepared") / "instance"
    quick = functools.cache(lambda password: generate_password_hash(password, "pbkdf2:sha256:1"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_demo_password_hash", quick)
        app = create_app(default_config(signing_key_path), instance_path=str(folder))
        prepare(app)
    # Every connection closed now, not whenever the app is garbage collected: the last one to
    # close folds SQLite's write-ahead log into the database and deletes the -wal file, which
    # would vanish under a copy made at that moment.
    with app.app_context():
        db.engine.dispose()
    return folder


@pytest.fixture
def demo_app(request, demo_config, tmp_path, prepared_instance):
    """A provider app with its own instance folder, its database prepared as serving would.
    (A copy of `prepared_instance`, except where real password hashing is asked for: its demo
    users are hashed cheaply.)"""
    instance = tmp_path / "instance"
    copied = not request.node.get_closest_marker("real_password_hashing")
    if copied:
        shutil.copytree(prepared_instance, instance)
    app = create_app(demo_config, instance_path=str(instance))
    if copied and demo_config == default_config(demo_config["DEMO_PROVIDER_SIGNING_KEY_PATH"]):
        # The copy was prepared with this very configuration, and preparing is idempotent:
        # doing it again would change nothing, at the cost of a new engine's every first query.
        app.extensions[preparation.EXTENSION_KEY].done = True
    else:
        prepare(app)
    return app


@pytest.fixture
def demo_client(demo_app):
    """A browser-like test client for the provider (keeps its cookie)."""
    return demo_app.test_client()


class FormParser(HTMLParser):
    """Collects each form's action and its named input values, as a browser would send them:
    checkboxes only when checked."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action"), "fields": []})
        elif tag == "input" and self.forms and attributes.get("name"):
            kind = (attributes.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            self.forms[-1]["fields"].append((attributes["name"], attributes.get("value") or ""))


class ProviderFlow:
    """Drives the provider the way a browser and a client would, one step per method."""

    issuer = ISSUER
    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET
    redirect_uri = REDIRECT_URI
    post_logout_redirect_uri = POST_LOGOUT_REDIRECT_URI
    keyed_client_id = KEYED_CLIENT_ID
    keyed_redirect_uri = KEYED_REDIRECT_URI
    other_client_id = OTHER_CLIENT_ID
    other_redirect_uri = OTHER_REDIRECT_URI
    other_post_logout_redirect_uri = OTHER_POST_LOGOUT_REDIRECT_URI
    other_client_secret = OTHER_CLIENT_SECRET
    full_scope = FULL_SCOPE

    def __init__(self, client):
        self.client = client

    @staticmethod
    def forms(html: str) -> list[dict]:
        """The forms on a page."""
        parser = FormParser()
        parser.feed(html)
        return parser.forms

    def csrf_token(self, html: str) -> str:
        """The CSRF token embedded in a page's form."""
        for form in self.forms(html):
            for name, value in form["fields"]:
                if name == "csrf_token":
                    return value
        raise AssertionError("no csrf_token on the page")

    @staticmethod
    def pkce_pair() -> tuple[str, str]:
        """A fresh PKCE code_verifier and its S256 code_challenge."""
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return verifier, challenge

    @staticmethod
    def authorize_params(challenge: str | None = None, **overrides) -> dict[str, str]:
        """A valid authorization request for the main client; `None` values are left out."""
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": FULL_SCOPE,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge or ProviderFlow.pkce_pair()[1],
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {key: value for key, value in params.items() if value is not None}

    @staticmethod
    def query(location: str) -> dict[str, str]:
        """The single-valued query parameters of a redirect Location."""
        return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

    @staticmethod
    def fragment(location: str) -> dict[str, str]:
        """The single-valued fragment parameters of a redirect Location (implicit grant)."""
        return {key: values[0] for key, values in parse_qs(urlsplit(location).fragment).items()}

    def sign_in(self, username="alice", password="wonderland", next_path=None):
        """Sign in at the provider through its login form."""
        page = self.client.get("/login")
        data = {"csrf_token": self.csrf_token(page.get_data(as_text=True))}
        data.update(username=username, password=password)
        if next_path:
            data["next"] = next_path
        return self.client.post("/login", data=data)

    def consent_form(self, params) -> dict:
        """Open the consent page for `params` and return its Allow/Deny form."""
        page = self.client.get("/authorize", query_string=params)
        assert page.status_code == 200, page.get_data(as_text=True)
        html = page.get_data(as_text=True)
        return next(f for f in self.forms(html) if f["action"].endswith("/authorize"))

    def decide(self, params, decision="allow", ticked=None):
        """Press Allow or Deny on the consent page for `params`, with the scope checkboxes as the
        page has them, or with only the `ticked` ones; returns the response."""
        form = self.consent_form(params)
        fields = form["fields"]
        if ticked is not None:
            fields = [item for item in fields if item[0] != GRANTED_FIELD]
            fields += [(GRANTED_FIELD, name) for name in ticked]
        return self.client.post(form["action"], data=MultiDict([*fields, ("decision", decision)]))

    def obtain_code(self, scope=FULL_SCOPE, username="alice", password="wonderland", **overrides):
        """Sign in (as alice unless told), consent, and return (code, verifier, params)."""
        verifier, challenge = self.pkce_pair()
        params = self.authorize_params(challenge, scope=scope, **overrides)
        self.sign_in(username, password)
        response = self.decide(params)
        assert response.status_code == 302, response.get_data(as_text=True)
        return self.query(response.headers["Location"])["code"], verifier, params

    @staticmethod
    def basic_auth(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) -> dict[str, str]:
        """An HTTP Basic Authorization header for a client."""
        raw = f"{client_id}:{client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}

    def redeem(self, code, verifier, redirect_uri=REDIRECT_URI, dpop=None, **auth):
        """POST the code to the token endpoint with client_secret_basic (and a DPoP proof)."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        }
        if verifier is not None:
            data["code_verifier"] = verifier
        headers = self.basic_auth(**auth)
        if dpop is not None:
            headers["DPoP"] = dpop
        return self.client.post("/token", data=data, headers=headers)

    def refresh(self, refresh_token, scope=None, dpop=None, **auth):
        """POST a refresh grant to the token endpoint with client_secret_basic (and a proof)."""
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope:
            data["scope"] = scope
        headers = self.basic_auth(**auth)
        if dpop is not None:
            headers["DPoP"] = dpop
        return self.client.post("/token", data=data, headers=headers)

    def push(self, params, dpop=None, **auth):
        """POST an authorization request to the PAR endpoint with client_secret_basic."""
        headers = self.basic_auth(**auth)
        if dpop is not None:
            headers["DPoP"] = dpop
        return self.client.post("/par", data=params, headers=headers)

    def dpop_call(self, path, access_token, proof, method="GET"):
        """Call the resource server with a DPoP-bound access token and a proof."""
        headers = {"Authorization": f"DPoP {access_token}", "DPoP": proof}
        return self.client.open(path, method=method, headers=headers)

    def tokens(self, scope=FULL_SCOPE, username="alice", password="wonderland", **client):
        """Run the whole code flow (for the main client unless `client_id`, `client_secret` and
        `redirect_uri` say otherwise) and return the token response JSON and the request params.
        """
        redirect_uri = client.pop("redirect_uri", REDIRECT_URI)
        overrides = {"client_id": client["client_id"]} if "client_id" in client else {}
        code, verifier, params = self.obtain_code(
            scope=scope,
            username=username,
            password=password,
            redirect_uri=redirect_uri,
            **overrides,
        )
        response = self.redeem(code, verifier, redirect_uri=redirect_uri, **client)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json(), params

    def redeem_as_public_client(self, code, verifier, client_id, redirect_uri, **extra):
        """POST the code to the token endpoint as a public client: client_id, no secret."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
        }
        if verifier is not None:
            data["code_verifier"] = verifier
        data.update(extra)
        return self.client.post("/token", data=data)

    def refresh_as_public_client(self, refresh_token, client_id):
        """POST a refresh grant as a public client: client_id, no secret."""
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
        }
        return self.client.post("/token", data=data)

    def profile_api(self, access_token):
        """GET the resource server's profile API with the access token as a bearer token."""
        return self.client.get("/api/profile", headers={"Authorization": f"Bearer {access_token}"})

    def contacts_api(self, access_token):
        """GET the resource server's contacts API with the access token as a bearer token."""
        headers = {"Authorization": f"Bearer {access_token}"}
        return self.client.get("/api/contacts", headers=headers)

    def connections_page(self):
        """GET the connected applications page."""
        return self.client.get("/connections")

    def revoke_connection(self, client_id, with_csrf=True):
        """Press "Revoke access" for a client, with the page's CSRF token unless told not to."""
        data = {}
        if with_csrf:
            data["csrf_token"] = self.csrf_token(self.client.get("/login").get_data(as_text=True))
        return self.client.post(f"/connections/{client_id}/revoke", data=data)

    def remove_scope(self, client_id, scope, with_csrf=True):
        """Press "Remove" beside one scope of a connected application (with the page's CSRF
        token unless told not to)."""
        data = {"scope": scope}
        if with_csrf:
            data["csrf_token"] = self.csrf_token(self.client.get("/login").get_data(as_text=True))
        return self.client.post(f"/connections/{client_id}/scopes/remove", data=data)

    def revoke(self, token, hint=None, **auth):
        """POST a revocation request with client_secret_basic."""
        data = {"token": token}
        if hint:
            data["token_type_hint"] = hint
        return self.client.post("/revoke", data=data, headers=self.basic_auth(**auth))

    @staticmethod
    def bearer(body) -> dict[str, str]:
        """A bearer Authorization header for a token response's access token."""
        return {"Authorization": f"Bearer {body['access_token']}"}

    def userinfo(self, access_token):
        """GET userinfo with the access token as a bearer token."""
        return self.client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def end_session(self, **params):
        """GET the end-session endpoint (RP-initiated logout) with these parameters."""
        return self.client.get("/end-session", query_string=params)

    def confirm_end_session(self, page, decision="sign-out"):
        """Press Sign out or Stay signed in on an end-session confirmation page."""
        form = next(
            f for f in self.forms(page.get_data(as_text=True)) if "end-session" in f["action"]
        )
        fields = MultiDict([*form["fields"], ("decision", decision)])
        return self.client.post(form["action"], data=fields)

    def signed_in(self) -> bool:
        """Whether the provider's home page shows someone signed in."""
        return "You are signed in here" in self.client.get("/").get_data(as_text=True)


@pytest.fixture
def flow(demo_client):
    """Step-by-step driver for the provider under test."""
    return ProviderFlow(demo_client)


class Registered:
    """What `flask --app demo_provider clients register` printed, read back."""

    def __init__(self, result):
        self.result = result
        self.output = result.output
        client_id = re.search(r"^\s*client_id:\s+(\S+)$", self.output, re.MULTILINE)
        secret = re.search(r"^\s*client_secret:\s+(\S+)$", self.output, re.MULTILINE)
        self.client_id = client_id.group(1) if client_id else None
        self.client_secret = secret.group(1) if secret else None


@pytest.fixture
def run_clients_command(demo_app):
    """Runs `flask --app demo_provider clients ...` against the provider under test."""

    def run(*args):
        return demo_app.test_cli_runner().invoke(args=["clients", *args])

    return run


@pytest.fixture
def register_client(run_clients_command):
    """Registers a client with `clients register` and returns what it printed, read back."""

    def register(*extra, name="Attendee App", redirect_uri="http://127.0.0.1:8000/callback"):
        result = run_clients_command(
            "register", "--name", name, "--redirect-uri", redirect_uri, *extra
        )
        assert result.exit_code == 0, result.output
        return Registered(result)

    return register


@pytest.fixture
def flow_for():
    """Makes a driver for any test client, e.g. one talking to the provider through a mount."""
    return ProviderFlow


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ClientKey:
    """A client's key pair: it signs DPoP proofs and client assertions. EC P-256 for ES256 (the
    default); an Ed25519 key for `Ed25519` (RFC 9864's name) or `EdDSA` (RFC 8037's)."""

    def __init__(self, kid: str | None = None, alg: str = "ES256") -> None:
        parameters = {"kid": kid} if kid else None
        if alg == "ES256":
            self.key = ECKey.generate_key("P-256", parameters=parameters)
        elif alg in ("Ed25519", "EdDSA"):
            self.key = OKPKey.generate_key("Ed25519", parameters=parameters)
        else:
            raise ValueError(f"no test key for {alg}")
        self.alg = alg

    @property
    def public_jwk(self) -> dict:
        return self.key.as_dict(private=False)

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint a token bound to this key carries as cnf.jkt."""
        return self.key.thumbprint()

    def jwks(self) -> dict:
        """The public JWK Set a client registers or publishes."""
        return {"keys": [self.public_jwk]}

    @staticmethod
    def unsigned(header: dict, claims: dict) -> str:
        """A compact JWT assembled by hand with an empty signature (alg none)."""
        parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
        return ".".join([*(b64url(part) for part in parts), ""])

    def sign(self, header: dict, claims: dict) -> str:
        return jwt.encode({"alg": self.alg, **header}, claims, self.key, algorithms=[self.alg])

    def proof(
        self, htm: str, htu: str, *, access_token=None, nonce=None, header=None, **claims
    ) -> str:
        """A DPoP proof for one request; `claims` add to or override the usual ones."""
        body = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": htu, "iat": int(time.time())}
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            body["ath"] = b64url(digest)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        jose_header = {"typ": "dpop+jwt", "jwk": self.public_jwk, **(header or {})}
        return self.sign(
            {k: v for k, v in jose_header.items() if v is not None},
            {k: v for k, v in body.items() if v is not None},
        )

    def assertion(self, client_id: str = KEYED_CLIENT_ID, aud=ISSUER, **claims) -> str:
        """A private_key_jwt client assertion; `claims` add to or override the usual ones."""
        now = int(time.time())
        body = {
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 60,
        }
        body.update(claims)
        header = {"kid": self.key.kid} if self.key.kid else {}
        return self.sign(header, {k: v for k, v in body.items() if v is not None})


@pytest.fixture
def client_key():
    """A fresh key pair for a client."""
    return ClientKey()


@pytest.fixture
def make_client_key():
    """Makes more key pairs (another client's, an attacker's): ClientKey(kid=None)."""
    return ClientKey


@pytest.fixture
def keyed_client():
    """Makes configured private_key_jwt client registrations (see `keyed_registration`)."""
    return keyed_registration


def keyed_registration(key: ClientKey | None = None, **registration) -> dict:
    """A configured private_key_jwt client registering `key`'s public JWK Set inline, unless
    `registration` says otherwise (jwks_uri=...)."""
    client = {
        "client_id": KEYED_CLIENT_ID,
        "token_endpoint_auth_method": "private_key_jwt",
        "redirect_uris": [KEYED_REDIRECT_URI],
        "client_name": "Keyed App",
        "scope": FULL_SCOPE,
    }
    if key is not None:
        client["jwks"] = key.jwks()
    client.update(registration)
    return client


@pytest.fixture
def provider_configured(demo_config, prepared_instance, tmp_path):
    """Builds a provider from the test configuration with `settings` merged in (and `clients`
    added to the configured ones), its database prepared; returns a driver for it."""
    numbers = itertools.count()

    def build(*, clients=(), **settings) -> ProviderFlow:
        config = copy.deepcopy(demo_config)
        config["DEMO_PROVIDER_CLIENTS"].extend(clients)
        config.update(settings)
        instance = tmp_path / f"configured-{next(numbers)}"
        shutil.copytree(prepared_instance, instance)
        app = create_app(config, instance_path=str(instance))
        prepare(app)
        flow = ProviderFlow(app.test_client())
        flow.app = app
        return flow

    return build
