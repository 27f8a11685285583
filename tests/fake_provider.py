"""A small OpenID provider for the client's tests, held in memory: discovery, JWKS, code + PKCE S256
with RFC 9207 `iss`, refresh-token rotation with reuse detection, userinfo, a profile API shaped
like the demo provider's, RFC 7009 revocation and RP-initiated logout. A person signs in and
answers consent with two form fields (no pages, no passwords); `serve_fake_provider` runs it on
127.0.0.1 behind a `Recorder`, the way the demo provider would be served.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlencode, urljoin

import requests
from flask import Flask, abort, jsonify, redirect, request, session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from tests import fake_dpop
from tests.live_provider import LiveProvider, LiveServer, Recorder

ALGORITHM = "RS256"
PUSHED_REQUEST_LIFETIME = 60
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ID_TOKEN_LIFETIME = 300
CODE_LIFETIME = 60
FULL_SCOPE = "openid profile email offline_access"
# What the client may ask for: the sign-in scope, and a feature's scope asked for later.
REGISTERED_SCOPE = FULL_SCOPE + " contacts.read"
SCOPES_SUPPORTED = ("openid", "profile", "email", "offline_access", "contacts.read")
# The address books behind /api/contacts (scope contacts.read), shaped like the demo provider's.
CONTACTS = {
    "alice": [
        {"name": "The White Rabbit", "email": "rabbit@example.org"},
        {"name": "The Cheshire Cat", "email": "cat@example.org"},
    ],
    "bob": [{"name": "Wendy", "email": "wendy@example.org"}],
}
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


@dataclass(frozen=True)
class Person:
    """A test user: the demo provider's alice and bob, with the same names and profile."""

    username: str
    name: str
    email: str
    email_verified: bool
    bio: str
    location: str
    member_since: date = date(2024, 1, 15)


PEOPLE = {
    person.username: person
    for person in (
        Person(
            username="alice",
            name="Alice Liddell",
            email="alice@example.org",
            email_verified=True,
            bio="Curious about everything, especially rabbit holes.",
            location="Wonderland",
        ),
        Person(
            username="bob",
            name="Bob the Builder",
            email="bob@example.org",
            email_verified=False,
            bio="Can we fix it? Yes we can.",
            location="Sunflower Valley",
        ),
    )
}


@dataclass(frozen=True)
class Client:
    """A client registered at the fake provider."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    scope: str = REGISTERED_SCOPE
    #: The public JWK Set of a client that authenticates with private_key_jwt (then no secret).
    jwks: dict | None = None


@dataclass
class Grant:
    """One consent: its codes, access tokens and refresh tokens descend from it and die with it."""

    client_id: str
    username: str
    scope: str
    auth_time: int
    #: The provider's sign-in session (OIDC `sid`): back-channel logout tokens name it.
    sid: str = ""
    revoked: bool = False
    #: The thumbprint of the DPoP key its tokens are bound to (None: bearer tokens).
    jkt: str | None = None
    #: `dpop_jkt` from the authorization request: the code may only be redeemed with that key.
    requested_jkt: str | None = None


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    nonce: str | None
    code_challenge: str
    expires_at: float
    used: bool = False
    #: The access tokens issued for it, revoked if the code is presented again.
    issued: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    grant: Grant
    scope: str
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    grant: Grant
    retired: bool = False


class OAuthError(Exception):
    """An error answered as RFC 6749 JSON by the token and revocation endpoints."""

    def __init__(self, error: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def half_hash(value: str, function=hashlib.sha256) -> str:
    """An ID token hash claim (`at_hash`) as OIDC Core §3.1.3.8 builds it: the left half of the
    value's hash, base64url."""
    digest = function(value.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636 section 4.2)."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def subject_for(provider_name: str, username: str) -> str:
    """A stable, opaque subject per provider and person: the same on every run, different at
    each fake provider, as two real issuers' identifiers for one person are."""
    return hashlib.sha256(f"{provider_name}:{username}".encode()).hexdigest()[:32]


def new_signing_key() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    key.ensure_kid()
    return key


class FakeProvider:
    """The provider's state and its Flask app. Thread-safe: the live server is threaded."""

    def __init__(
        self,
        issuer: str,
        clients: list[Client],
        *,
        name: str = "demo",
        access_token_ttl: int = 300,
        signing_key: RSAKey | None = None,
    ) -> None:
        self.issuer = issuer
        self.name = name
        self.clients = {client.client_id: client for client in clients}
        self.access_token_ttl = access_token_ttl
        #: The private key ID tokens are signed with; tests re-sign forged tokens with it.
        self.signing_key = signing_key or new_signing_key()
        self.codes: dict[str, Code] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        #: Pushed authorization requests (RFC 9126) by request_uri: (expiry, parameters). The
        #: endpoint is not in discovery: a test that wants it advertised rewrites the document.
        self.pushed: dict[str, tuple[float, dict[str, str]]] = {}
        #: The jti of every client assertion accepted, so none is accepted twice.
        self.assertion_ids: set[str] = set()
        #: DPoP (RFC 9449): the proofs' jti seen, and the nonce proofs must carry (None: none).
        self.proof_ids: set[str] = set()
        self.dpop_nonce: str | None = None
        self._lock = threading.RLock()
        self.app = self._build_app()

    # -- Pieces of the protocol ----------------------------------------------------------

    def subject(self, username: str) -> str:
        return subject_for(self.name, username)

    def claims(self, username: str, scope: str) -> dict[str, Any]:
        """What the granted scope releases about the person; `sub` always."""
        person = PEOPLE[username]
        granted = scope.split()
        claims: dict[str, Any] = {"sub": self.subject(username)}
        if "profile" in granted:
            claims.update(name=person.name, preferred_username=person.username)
        if "email" in granted:
            claims.update(email=person.email, email_verified=person.email_verified)
        return claims

    def id_token(self, grant: Grant, access_token: str, scope: str, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "auth_time": grant.auth_time,
            "sid": grant.sid,
        }
        # Refreshed ID tokens carry no nonce (OIDC Core section 12.2).
        if nonce:
            claims["nonce"] = nonce
        claims["at_hash"] = half_hash(access_token)
        claims.update(self.claims(grant.username, scope))
        header = {"alg": ALGORITHM, "kid": self.signing_key.kid}
        return jwt.encode(header, claims, self.signing_key, algorithms=[ALGORITHM])

    def issue(self, grant: Grant, scope: str, *, nonce: str | None, refresh: bool) -> dict:
        """A token response: an opaque access token, a refresh token when `refresh`, and an ID
        token when `openid` was granted."""
        access_token = secrets.token_urlsafe(32)
        self.access_tokens[access_token] = AccessToken(
            grant, scope, time.time() + self.access_token_ttl
        )
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "DPoP" if grant.jkt else "Bearer",
            "expires_in": self.access_token_ttl,
            "scope": scope,
        }
        if refresh:
            refresh_token = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh_token] = RefreshToken(grant)
            body["refresh_token"] = refresh_token
        if "openid" in scope.split():
            body["id_token"] = self.id_token(grant, access_token, scope, nonce)
        return body

    def authenticate_client(self) -> Client:
        """client_secret_basic (each part form-decoded, RFC 6749 section 2.3.1) or
        client_secret_post; anything else is a 401 with a Basic challenge."""
        if request.form.get("client_assertion_type") == ASSERTION_TYPE:
            return self._client_by_assertion(request.form.get("client_assertion", ""))
        client_id = client_secret = None
        scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except ValueError:
                decoded = ""
            raw_id, colon, raw_secret = decoded.partition(":")
            if colon:
                client_id, client_secret = unquote(raw_id), unquote(raw_secret)
        elif "client_secret" in request.form:
            client_id = request.form.get("client_id")
            client_secret = request.form.get("client_secret")
        client = self.clients.get(client_id or "")
        if client is None or not hmac.compare_digest(
            (client_secret or "").encode(), client.client_secret.encode()
        ):
            raise OAuthError(
                "invalid_client", 401, {"WWW-Authenticate": 'Basic realm="fake-provider"'}
            )
        return client

    def _client_by_assertion(self, assertion: str) -> Client:
        """private_key_jwt (RFC 7523 §3): signed by the client's registered key, iss = sub =
        client_id, aud = this issuer, not expired, and its jti never seen before."""
        refused = OAuthError("invalid_client", 401)
        try:
            unverified = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
            client = self.clients[unverified["iss"]]
            keys = KeySet.import_key_set(client.jwks)
            token = jwt.decode(assertion, keys, algorithms=["ES256", "PS256", "EdDSA"])
        except (LookupError, ValueError, TypeError, JoseError, AttributeError):
            raise refused from None
        claims = token.claims
        with self._lock:
            replayed = claims.get("jti") in self.assertion_ids
            self.assertion_ids.add(claims.get("jti"))
        if (
            replayed
            or claims.get("sub") != client.client_id
            or claims.get("aud") != self.issuer
            or not isinstance(claims.get("exp"), int)
            or claims["exp"] < time.time()
        ):
            raise refused
        return client

    def live_access_token(self, scope: str) -> AccessToken:
        """The bearer token of this request, if live and granted `scope`; else abort with an
        RFC 6750 challenge."""
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        token = self.access_tokens.get(value) if scheme.lower() in ("bearer", "dpop") else None
        if token is None or token.revoked or token.grant.revoked or token.expires_at < time.time():
            abort(_bearer_error("invalid_token", 401))
        if token.grant.jkt is not None:
            # RFC 9449 §7: a bound token only with the DPoP scheme and a proof of its key.
            if scheme.lower() != "dpop":
                abort(_dpop_error("invalid_token"))
            try:
                jkt = fake_dpop.verify(
                    request.headers.get("DPoP"),
                    method=request.method,
                    url=self.issuer + request.path,
                    seen=self.proof_ids,
                    nonce=self.dpop_nonce,
                    access_token=value,
                )
            except fake_dpop.ProofRefused as refused:
                abort(_dpop_error(refused.error, self.dpop_nonce))
            if jkt != token.grant.jkt:
                abort(_dpop_error("invalid_dpop_proof"))
        if scope not in token.scope.split():
            abort(_bearer_error("insufficient_scope", 403))
        return token

    # -- Endpoints -------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(f"fake_provider_{self.name}")
        app.config.update(
            SECRET_KEY=secrets.token_urlsafe(32), SESSION_COOKIE_NAME="fake_provider_session"
        )

        @app.errorhandler(OAuthError)
        def oauth_error(error: OAuthError):
            headers = {"Cache-Control": "no-store", **error.headers}
            return jsonify(error=error.error), error.status, headers

        @app.get("/.well-known/openid-configuration")
        def discovery():
            issuer = self.issuer
            response = jsonify(
                issuer=issuer,
                authorization_endpoint=f"{issuer}/authorize",
                token_endpoint=f"{issuer}/token",
                userinfo_endpoint=f"{issuer}/userinfo",
                jwks_uri=f"{issuer}/jwks.json",
                revocation_endpoint=f"{issuer}/revoke",
                end_session_endpoint=f"{issuer}/end-session",
                # Not standard metadata: the demo provider's name for its profile API.
                profile_endpoint=f"{issuer}/api/profile",
                contacts_endpoint=f"{issuer}/api/contacts",
                scopes_supported=list(SCOPES_SUPPORTED),
                response_types_supported=["code"],
                response_modes_supported=["query"],
                grant_types_supported=["authorization_code", "refresh_token"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=list(CLIENT_AUTH_METHODS),
                revocation_endpoint_auth_methods_supported=list(CLIENT_AUTH_METHODS),
                id_token_signing_alg_values_supported=[ALGORITHM],
                subject_types_supported=["public"],
                authorization_response_iss_parameter_supported=True,
                backchannel_logout_supported=True,
                backchannel_logout_session_supported=True,
            )
            response.headers["Cache-Control"] = "public, max-age=300"
            return response

        @app.get("/jwks.json")
        def jwks():
            public = self.signing_key.as_dict(private=False)
            public.update(use="sig", alg=ALGORITHM, kid=self.signing_key.kid)
            response = jsonify(keys=[public])
            response.headers["Cache-Control"] = "public, max-age=300"
            return response

        @app.get("/login")
        def login():
            return "Fake provider: sign in by POSTing `user` and `decision` to /authorize.\n"

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            return self._authorize()

        @app.post("/token")
        def token():
            return self._token()

        @app.post("/revoke")
        def revoke():
            return self._revoke()

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo():
            token = self.live_access_token("openid")
            return jsonify(self.claims(token.grant.username, token.scope))

        @app.get("/api/profile")
        def profile():
            token = self.live_access_token("profile")
            person = PEOPLE[token.grant.username]
            payload = {
                "sub": self.subject(person.username),
                "username": person.username,
                "name": person.name,
                "bio": person.bio,
                "location": person.location,
                "member_since": person.member_since.isoformat(),
                "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            if "email" in token.scope.split():
                payload["email"] = person.email
            return jsonify(payload)

        @app.get("/api/contacts")
        def contacts():
            token = self.live_access_token("contacts.read")
            return jsonify(contacts=CONTACTS.get(token.grant.username, []))

        @app.get("/end-session")
        def end_session():
            return self._end_session()

        @app.post("/par")
        def pushed_authorization_request():
            return self._push()

        return app

    def _authorize(self):
        """Check the client's request; then sign in the person named by the form field `user`
        and answer with their `decision` (allow or deny). A GET shows no page: without someone
        signed in it sends the browser to sign in, as a provider does."""
        args = request.args
        if "request_uri" in args:
            # RFC 9126 §4: the pushed parameters, and nothing from the address but client_id.
            with self._lock:
                expires, pushed = self.pushed.get(args["request_uri"], (0.0, {}))
                if request.method == "POST":
                    self.pushed.pop(args["request_uri"], None)  # used once
            if expires < time.time() or pushed.get("client_id") != args.get("client_id"):
                return "Unknown or expired request_uri.\n", 400
            args = pushed
        client = self.clients.get(args.get("client_id", ""))
        redirect_uri = args.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            # Never redirect to an address the client did not register (open redirector).
            return "Unknown client or unregistered redirect_uri.\n", 400
        state = args.get("state")

        def answer(**params: str):
            params = {**params, **({"state": state} if state else {}), "iss": self.issuer}
            return redirect(f"{redirect_uri}?{urlencode(params)}", code=303)

        scope = args.get("scope", "")
        if args.get("response_type") != "code":
            return answer(error="unsupported_response_type")
        if not set(scope.split()) <= set(client.scope.split()):
            return answer(error="invalid_scope")
        challenge = args.get("code_challenge", "")
        if args.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            return answer(error="invalid_request", error_description="PKCE S256 is required.")
        nonce = args.get("nonce")
        if "openid" in scope.split() and not nonce:
            return answer(error="invalid_request", error_description="nonce is required.")

        if request.method == "GET":
            if session.get("username") is None:
                return redirect(f"/login?{urlencode({'next': request.full_path})}", code=303)
            return "Consent: POST `user` and `decision` to this URL.\n"

        username = request.form.get("user", "")
        if username not in PEOPLE:
            return f"No test user {username!r}.\n", 400
        session.clear()
        session["username"] = username
        session["auth_time"] = int(time.time())
        session["sid"] = secrets.token_urlsafe(12)
        if request.form.get("decision", "").lower() != "allow":
            return answer(error="access_denied")
        if "granted" in request.form:
            # Granular consent, as Google has it: the person unticked some scopes. openid
            # cannot be unticked; nothing that was not asked for is granted.
            ticked = set(request.form["granted"].split()) | {"openid"}
            scope = " ".join(name for name in scope.split() if name in ticked)
        code = secrets.token_urlsafe(32)
        with self._lock:
            grant = Grant(
                client.client_id,
                username,
                scope,
                session["auth_time"],
                sid=session["sid"],
                requested_jkt=args.get("dpop_jkt"),
            )
            self.codes[code] = Code(
                grant, redirect_uri, nonce, challenge, time.time() + CODE_LIFETIME
            )
        return answer(code=code)

    def _push(self):
        """RFC 9126 §2: the client, authenticated, pushes its authorization request."""
        client = self.authenticate_client()
        parameters = request.form.to_dict()
        parameters.pop("client_secret", None)
        if "request_uri" in parameters or parameters.get("client_id", client.client_id) != (
            client.client_id
        ):
            raise OAuthError("invalid_request")
        request_uri = "urn:ietf:params:oauth:request_uri:" + secrets.token_urlsafe(16)
        with self._lock:
            self.pushed[request_uri] = (
                time.time() + PUSHED_REQUEST_LIFETIME,
                {**parameters, "client_id": client.client_id},
            )
        response = jsonify(request_uri=request_uri, expires_in=PUSHED_REQUEST_LIFETIME)
        response.headers["Cache-Control"] = "no-store"
        return response, 201

    def _token_proof(self, grant: Grant) -> None:
        """A DPoP proof on a token request binds the tokens (a refresh must use the same key);
        a grant bound before, or a code bound by `dpop_jkt`, requires one."""
        header = request.headers.get("DPoP")
        required = grant.jkt or grant.requested_jkt
        if header is None and not required:
            return
        try:
            jkt = fake_dpop.verify(
                header,
                method="POST",
                url=f"{self.issuer}/token",
                seen=self.proof_ids,
                nonce=self.dpop_nonce,
            )
        except fake_dpop.ProofRefused as refused:
            extra = {"DPoP-Nonce": self.dpop_nonce} if self.dpop_nonce else {}
            raise OAuthError(refused.error, 400, extra) from None
        if required and jkt != required:
            raise OAuthError("invalid_dpop_proof")
        grant.jkt = jkt

    def _token(self):
        client = self.authenticate_client()
        grant_type = request.form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                body = self._redeem_code(client)
            elif grant_type == "refresh_token":
                body = self._refresh(client)
            else:
                raise OAuthError("unsupported_grant_type")
        return jsonify(body), 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}

    def _redeem_code(self, client: Client) -> dict:
        code = self.codes.get(request.form.get("code", ""))
        if code is None or code.grant.client_id != client.client_id:
            raise OAuthError("invalid_grant")
        if code.used:
            # A code presented twice was stolen or replayed: what it gave stops working.
            code.grant.revoked = True
            raise OAuthError("invalid_grant")
        self._token_proof(code.grant)
        code.used = True
        verifier = request.form.get("code_verifier", "")
        if (
            code.expires_at < time.time()
            or request.form.get("redirect_uri") != code.redirect_uri
            or not verifier
            or not hmac.compare_digest(s256(verifier), code.code_challenge)
        ):
            raise OAuthError("invalid_grant")
        # A refresh token lets the client act while the person is away: only with
        # offline_access (OIDC Core section 11).
        refresh = "offline_access" in code.grant.scope.split()
        return self.issue(code.grant, code.grant.scope, nonce=code.nonce, refresh=refresh)

    def _refresh(self, client: Client) -> dict:
        presented = self.refresh_tokens.get(request.form.get("refresh_token", ""))
        if presented is None or presented.grant.client_id != client.client_id:
            raise OAuthError("invalid_grant")
        if presented.grant.revoked:
            raise OAuthError("invalid_grant")
        if presented.retired:
            # Only one party can hold the current refresh token; an old one coming back means
            # two have it (RFC 9700 section 4.14.2). The whole grant ends.
            presented.grant.revoked = True
            raise OAuthError("invalid_grant")
        scope = request.form.get("scope") or presented.grant.scope
        if not set(scope.split()) <= set(presented.grant.scope.split()):
            raise OAuthError("invalid_scope")
        self._token_proof(presented.grant)
        presented.retired = True
        return self.issue(presented.grant, scope, nonce=None, refresh=True)

    def _revoke(self):
        """RFC 7009: a refresh token takes its grant with it, an access token goes alone; 200
        whatever the token was, so the endpoint tells nobody which strings are live tokens."""
        client = self.authenticate_client()
        value = request.form.get("token")
        if not value:
            raise OAuthError("invalid_request")
        with self._lock:
            refresh = self.refresh_tokens.get(value)
            access = self.access_tokens.get(value)
            if refresh is not None and refresh.grant.client_id == client.client_id:
                refresh.grant.revoked = True
            elif access is not None and access.grant.client_id == client.client_id:
                access.revoked = True
        return "", 200

    def _end_session(self):
        """RP-initiated logout: sign out at once when a genuine id_token_hint names whoever is
        signed in here, then return to a registered post_logout_redirect_uri with `state`."""
        claims = self._hint_claims(request.args.get("id_token_hint", ""))
        client = self.clients.get(claims["aud"]) if claims else None
        if client is None:
            return "Confirm signing out (no valid id_token_hint).\n"
        signed_in = session.get("username")
        if signed_in is not None and self.subject(signed_in) != claims["sub"]:
            return "Confirm signing out (the hint names someone else).\n"
        session.clear()
        uri = request.args.get("post_logout_redirect_uri")
        if uri is None:
            return "Signed out.\n"
        if uri not in client.post_logout_redirect_uris:
            return "Signed out; post_logout_redirect_uri is not registered.\n"
        state = request.args.get("state")
        return redirect(f"{uri}?{urlencode({'state': state})}" if state else uri, code=303)

    def _hint_claims(self, hint: str) -> dict[str, Any] | None:
        """The claims of an ID token this provider signed for one of its clients (an expired one
        too: clients send the one they got at sign-in)."""
        try:
            claims = jwt.decode(hint, self.signing_key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError):
            return None
        if claims.get("iss") != self.issuer or not isinstance(claims.get("aud"), str):
            return None
        return dict(claims)


def _bearer_error(error: str, status: int):
    response = jsonify(error=error)
    response.status_code = status
    response.headers["WWW-Authenticate"] = f'Bearer realm="fake-provider", error="{error}"'
    return response


def _dpop_error(error: str, nonce: str | None = None):
    response = jsonify(error=error)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = f'DPoP error="{error}", algs="ES256 PS256 EdDSA"'
    if nonce is not None:
        response.headers["DPoP-Nonce"] = nonce
    return response


def serve_fake_provider(
    clients: list[Client], *, name: str = "demo", access_token_ttl: int = 300
) -> tuple[LiveProvider, LiveServer]:
    """A fake provider with these clients, served over HTTP on 127.0.0.1 behind a recorder."""
    recorder = Recorder()
    server = LiveServer(recorder)
    fake = FakeProvider(server.url, clients, name=name, access_token_ttl=access_token_ttl)
    recorder.app = fake.app
    server.start()
    live = LiveProvider(
        issuer=server.url, recorder=recorder, app=fake.app, signing_key=fake.signing_key, fake=fake
    )
    return live, server


class FakeBrowser:
    """A person's browser at a fake provider: one POST to the authorization URL names who signs
    in and what they decide; returns the URL the provider sends the browser back to."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = requests.Session()
        self.http.trust_env = False

    def authorize(
        self,
        url: str,
        username: str = "alice",
        decision: str = "Allow",
        granted: str | None = None,
    ) -> str:
        """`granted`: the scopes left ticked at consent (None: all that were asked for)."""
        data = {"user": username, "decision": decision.lower()}
        if granted is not None:
            data["granted"] = granted
        response = self.http.post(
            url,
            data=data,
            allow_redirects=False,
            timeout=10,
        )
        if not response.is_redirect:
            raise AssertionError(
                f"the provider answered {response.status_code}: {response.text[:300]}"
            )
        return urljoin(url, response.headers["Location"])
