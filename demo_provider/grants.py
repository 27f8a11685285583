"""The grants the provider supports, built on Authlib: the authorization code grant with PKCE S256
required for every client, the OpenID Connect ID token, refresh tokens with rotation and reuse
detection, DPoP-bound tokens (RFC 9449) when the token request carries a proof, and the legacy
implicit grant for the lab that shows why it was abandoned.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash
from flask import current_app

from demo_provider import dpop, scopes, sessions, signing
from demo_provider.extensions import db
from demo_provider.models import (
    NO_AUTH_METHOD,
    PRIVATE_KEY_JWT,
    SECRET_AUTH_METHODS,
    AuthorizationCode,
    CodeDpopBinding,
    Grant,
    Token,
    TokenDpopBinding,
    User,
    digest,
)

# Short: the client checks the ID token once, right after the token response.
ID_TOKEN_LIFETIME = 300
# Tried in this order; each client accepts only the methods of its kind (`Client.auth_methods`):
# confidential clients their secret or their key (private_key_jwt), public clients `none`, their
# client_id alone (RFC 6749 section 2.1). A public client's code is protected by PKCE and its
# refresh tokens by rotation.
CLIENT_AUTH_METHODS = [*SECRET_AUTH_METHODS, PRIVATE_KEY_JWT, NO_AUTH_METHOD]
DPOP_TOKEN_TYPE = "DPoP"  # noqa: S105 -- a token type name, not a credential


class S256CodeChallenge(CodeChallenge):
    """PKCE for every client, confidential ones included, and only the S256 method.

    Authlib's default accepts `plain` and lets confidential clients skip PKCE; OAuth 2.1 and
    RFC 9700 section 2.1.1 want it always, because PKCE also stops code injection, which a
    client secret does not.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Any]] = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant, redirect_uri):
        """Require a code_challenge with code_challenge_method=S256 on every request."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a 'code_challenge' (S256).")
        # An omitted method means `plain` (RFC 7636 section 4.3), which a listener can replay.
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only 'code_challenge_method=S256' is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class DpopBoundTokens:
    """Tokens issued against a DPoP proof are of type `DPoP` (RFC 9449 section 5), so the client
    knows to send them with `Authorization: DPoP` and a proof; `save_token` binds them.
    """

    def generate_token(self, *args, **kwargs):
        """The usual tokens, typed DPoP when the token request proved a key."""
        token = super().generate_token(*args, **kwargs)
        if proof_key(self.request) is not None:
            token["token_type"] = DPOP_TOKEN_TYPE
        return token


def proof_key(request: Any) -> str | None:
    """The thumbprint of the DPoP key the token request proved, if any (see `server`)."""
    return getattr(request, "dpop_jkt", None)


def consent_to(request: Any, scope: str) -> None:
    """Record on the authorization request the scope the person allowed on the consent page
    (`consent.py`), which the code or token then carries instead of the requested scope.
    """
    request.consented_scope = scope


class ConsentedScope:
    """Issue for the scope the person allowed, not the one the client asked for: fewer scopes
    when they unticked some, more with include_granted_scopes. Authlib sets `request.scope` to
    the requested scope every time it validates the request, which it does again just before
    answering, so the allowed scope is put back here, after that and before anything is issued.
    """

    def create_authorization_response(self, redirect_uri, grant_user):
        """Authlib's answer, for the consented scope."""
        consented = getattr(self.request, "consented_scope", None)
        if consented is not None:
            self.request.scope = consented
        return super().create_authorization_response(redirect_uri, grant_user)


class AuthorizationCodeGrant(ConsentedScope, DpopBoundTokens, grants.AuthorizationCodeGrant):
    """Short-lived, single-use codes bound to client, redirect URI, PKCE challenge and nonce,
    and to a DPoP key when the request named one.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_authorization_request(self):
        """Authlib's checks, and a well-formed `dpop_jkt` when one is given."""
        redirect_uri = super().validate_authorization_request()
        jkt = self.request.payload.data.get("dpop_jkt")
        if jkt is not None and not dpop.is_thumbprint(jkt):
            raise InvalidRequestError(
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint.",
                redirect_uri=redirect_uri,
                state=self.request.payload.state,
            )
        return redirect_uri

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """The redirect URI, exactly as registered (see `registered_redirect_uri`)."""
        return registered_redirect_uri(request, client)

    def generate_authorization_code(self) -> str:
        """256 random bits: far beyond guessing."""
        return secrets.token_urlsafe(32)

    def save_authorization_code(self, code, request):
        """Start a new grant (the consent just given) and store the code's digest under it."""
        owner = request.user
        data = request.payload.data
        grant = Grant(
            client_id=request.client.client_id,
            user_id=owner.user.id,
            scope=request.scope,
            auth_time=owner.auth_time,
        )
        db.session.add(grant)
        if owner.sid is not None:
            # Carried by the grant to every ID token issued from it (see `IdTokenClaims`).
            sessions.bind_grant(grant, owner.sid)
        # RFC 9449 section 10: a code bound to the client's DPoP key (by `dpop_jkt`, or by a
        # proof sent with the pushed request) is redeemed only with a proof of that key.
        jkt = data.get("dpop_jkt")
        db.session.add(
            AuthorizationCode(
                code_hash=digest(code),
                grant=grant,
                client_id=request.client.client_id,
                user_id=owner.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                dpop_binding=CodeDpopBinding(jkt=jkt) if jkt else None,
            )
        )
        db.session.commit()

    def query_authorization_code(self, code, client):
        """The code if it was issued to this client and is still fresh; used ones are returned
        too, so that `create_token_response` can recognise a replay after PKCE has passed.
        """
        row = AuthorizationCode.find(code)
        if row is None or row.client_id != client.client_id or row.is_expired():
            return None
        if row.grant.revoked_at is not None:
            return None
        return row

    def create_token_response(self):
        """Redeem the code exactly once; a second redemption revokes what the first produced."""
        code = self.request.authorization_code
        bound = code.dpop_jkt
        if bound is not None and bound != proof_key(self.request):
            # Before redeeming: the rightful client can still use the code with its key.
            raise dpop.InvalidDpopProofError(
                "The authorization code is bound to another DPoP key (dpop_jkt)."
            )
        # Reached only after client authentication and the PKCE verifier have succeeded, so a
        # stranger replaying a stolen code cannot use this to revoke someone else's tokens.
        if not code.redeem():
            # RFC 6749 section 4.1.2: a code used twice has leaked; the tokens from its first
            # use may be in the wrong hands.
            code.grant.revoke()
            raise InvalidGrantError("The authorization code was already used.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code):
        """Keep the redeemed code (marked used) so a replay can still be recognised."""

    def authenticate_user(self, authorization_code):
        """The person who consented."""
        return db.session.get(User, authorization_code.user_id)


def registered_redirect_uri(request, client) -> str:
    """The redirect URI, which must be one the client registered, exactly; it is required,
    since OpenID Connect wants it named and clients here have no default.
    """
    redirect_uri = request.payload.redirect_uri
    if not redirect_uri:
        raise InvalidRequestError("Missing 'redirect_uri'.", state=request.payload.state)
    if not client.check_redirect_uri(redirect_uri):
        # Not quoted back: Authlib refuses to build an error whose description holds
        # characters RFC 6749 forbids there, and a hostile URI would be full of them.
        raise InvalidRequestError("The redirect_uri is not registered for this client.")
    return redirect_uri


class RefreshTokenGrant(DpopBoundTokens, grants.RefreshTokenGrant):
    """Refresh with rotation: every use returns a new refresh token and retires the old one;
    presenting a retired one revokes the whole grant (RFC 9700 section 4.14.2). A DPoP-bound
    refresh token is used only with a proof of its key.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        """The token row if this client may use it now; a replayed retired one kills its grant."""
        token = Token.find_by_refresh_token(refresh_token)
        client = self.request.client
        if token is None or not token.check_client(client):
            return None
        if token.grant.revoked_at is not None:
            return None
        if token.refresh_revoked_at is not None:
            # Only one party can hold the current refresh token; seeing an old one means two
            # parties have it (theft). We cannot tell which is legitimate, so end the grant.
            token.grant.revoke()
            return None
        if token.refresh_token_expired(current_app.config["DEMO_PROVIDER_REFRESH_TOKEN_TTL"]):
            return None
        if scopes.OFFLINE_ACCESS not in scope_to_list(token.grant.scope):
            # A refresh token exists only by the person's offline_access consent; once they
            # take it back (connected applications), none of the grant's refresh tokens works,
            # including one issued while they were taking it back.
            return None
        bound = token.dpop_jkt
        if bound is not None and bound != proof_key(self.request):
            # RFC 9449 section 5: whoever copied the refresh token lacks the private key. The
            # token stays usable by its holder, who has the key.
            raise dpop.InvalidDpopProofError("The refresh token is bound to another DPoP key.")
        return token

    def _validate_token_scope(self, token):
        """A refresh may narrow the scope but never exceed what the grant allows now (RFC 6749
        section 6): what was consented to, less what the person took back since.
        """
        requested = self.request.payload.scope
        if requested and not set(scope_to_list(requested)) <= set(scope_to_list(token.grant.scope)):
            raise InvalidScopeError()

    def issue_token(self, user, refresh_token):
        """Issue for the requested scope, or the grant's whole current scope when none is given;
        the token response's `scope` says which, each name once.
        """
        requested = scope_to_list(self.request.payload.scope)
        scope = list_to_scope(list(dict.fromkeys(requested))) if requested else None
        scope = scope or refresh_token.grant.scope
        return self.generate_token(user=user, scope=scope, include_refresh_token=True)

    def authenticate_user(self, refresh_token):
        """The person who consented."""
        return db.session.get(User, refresh_token.user_id)

    def revoke_old_credential(self, refresh_token):
        """Retire the presented refresh token; losing a race to another use of it is a replay."""
        if not refresh_token.retire_refresh_token():
            refresh_token.grant.revoke()
            raise InvalidGrantError()


class LegacyImplicitGrant(ConsentedScope, grants.ImplicitGrant):
    """The implicit grant (RFC 6749 section 4.2), for the lab only: the access token comes back
    in the redirect URI's fragment, straight from the authorization endpoint. OAuth 2.1 and
    RFC 9700 section 2.1.2 drop it: the token sits in the address bar and browser history, any
    open redirect carries the fragment to another site, the client never authenticates, and
    nothing binds the token to the client or the browser that asked for it (token injection).
    It is registered only when `DEMO_PROVIDER_LEGACY_IMPLICIT` is on, and then serves only
    clients registered with `legacy_implicit`; it never issues a refresh token.
    """

    def authenticate_token_endpoint_client(self):
        """The client named by client_id. Nothing is authenticated: a browser holds no secret,
        which is one of the reasons the grant was abandoned.
        """
        client_id = self.request.payload.client_id
        client = self.server.query_client(client_id) if client_id else None
        if client is None:
            raise InvalidClientError(description="The client does not exist on this server.")
        return client

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """The redirect URI, exactly as registered (see `registered_redirect_uri`)."""
        return registered_redirect_uri(request, client)

    def save_token(self, token):
        """Start a grant for the consent just given and store the token's digest under it, so the
        person sees it among their connected applications and can revoke it there.
        """
        owner = self.request.user
        grant = Grant(
            client_id=self.request.client.client_id,
            user_id=owner.user.id,
            scope=self.request.scope,
            auth_time=owner.auth_time,
        )
        db.session.add(grant)
        db.session.flush()
        store_token(token, grant_id=grant.id, client_id=grant.client_id, user_id=grant.user_id)


def store_token(
    token: dict[str, Any],
    *,
    grant_id: str,
    client_id: str,
    user_id: int,
    dpop_jkt: str | None = None,
) -> None:
    """Store the digests of issued tokens under the grant they descend from, bound to the DPoP
    key the request proved, if any, and commit.
    """
    refresh_token = token.get("refresh_token")
    db.session.add(
        Token(
            grant_id=grant_id,
            client_id=client_id,
            user_id=user_id,
            scope=token["scope"],
            access_token_hash=digest(token["access_token"]),
            refresh_token_hash=digest(refresh_token) if refresh_token else None,
            expires_in=token["expires_in"],
            dpop_binding=TokenDpopBinding(jkt=dpop_jkt) if dpop_jkt else None,
        )
    )
    db.session.commit()


class IdTokenClaims:
    """Builds and signs the ID token itself, so every claim and the signing key are explicit."""

    def generate_user_info(self, user, scope):
        """Claims about the person released by the granted scope."""
        return scopes.user_claims(user, scope)

    def encode_id_token(self, token, request):
        """An RS256 ID token for the person and client of this token response; at code exchange,
        also a note that the client took part in the person's session here.
        """
        code = request.authorization_code
        grant = code.grant if code is not None else request.refresh_token.grant
        now = int(time.time())
        claims: dict[str, Any] = {
            # iss and aud tell the client the token was minted by this issuer for it, which is
            # what stops a token for another client or from another provider being accepted.
            "iss": current_app.config["DEMO_PROVIDER_ISSUER"],
            "aud": request.client.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
            # The original sign-in time, also on refresh (OIDC Core section 12.2).
            "auth_time": grant.auth_time,
        }
        # The provider session the person consented in, also on refresh (the grant keeps it):
        # a back-channel logout token for that session names the same sid, which is how the
        # client knows which of its sessions to end.
        sid = sessions.sid_of_grant(grant.id)
        if sid is not None:
            claims["sid"] = sid
            if code is not None:
                # The client now holds an ID token of this session, so it is told when the
                # session ends. Not on refresh: a refresh after the session ended must not
                # sign the client up for a session that will never end again.
                sessions.record_participant(sid, grant.client_id, grant.user_id)
        # The nonce ties the token to the browser session that started the sign-in. Refreshed
        # ID tokens leave it out (OIDC Core section 12.2).
        if code is not None and code.nonce:
            claims["nonce"] = code.nonce
        at_hash = create_half_hash(token["access_token"], signing.ALGORITHM)
        claims["at_hash"] = at_hash.decode("ascii")
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return signing.sign_id_token(claims)


class OpenIDCodeExtension(IdTokenClaims, OpenIDCode):
    """OpenID Connect on the code grant, with `nonce` required whenever `openid` is asked for."""

    def __init__(self):
        super().__init__(require_nonce=True)

    def exists_nonce(self, nonce, request):
        """A nonce this client already used means a replayed authorization request."""
        return AuthorizationCode.nonce_seen(request.payload.client_id, nonce)


class OpenIDRefreshExtension(IdTokenClaims, OpenIDToken):
    """A fresh ID token on refresh when `openid` was granted (same iss, sub and aud)."""
