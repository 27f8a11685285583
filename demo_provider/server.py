"""The provider's Authlib wiring: the authorization server (grants, token issuing, revocation,
RFC 9207 `iss`) created per app, and the resource protector guarding userinfo and the API.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    MissingAuthorizationError,
    OAuth2Error,
    UnsupportedTokenTypeError,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, abort, current_app, json

from demo_provider import grants, scopes
from demo_provider.extensions import db
from demo_provider.models import Client, Token, digest

EXTENSION_KEY = "demo_provider.authorization_server"
REFRESH_TOKEN_HINT = "refresh_token"  # noqa: S105 -- a token type name, not a credential


def issue_bearer_token(
    grant_type: str,
    client: Client,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Opaque random tokens (256 bits each) with the configured access-token lifetime."""
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": secrets.token_urlsafe(32),
        "expires_in": expires_in or current_app.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"],
        "scope": scope or "",
    }
    # A refresh token lets the client act while the person is away, so it needs the
    # offline_access consent (OIDC Core section 11); a refresh always rotates to a new one.
    wants_refresh = grant_type == "refresh_token" or "offline_access" in scope_to_list(scope or "")
    if include_refresh_token and wants_refresh:
        token["refresh_token"] = secrets.token_urlsafe(32)
    return token


def query_client(client_id: str) -> Client | None:
    """The registered client with this id, if any."""
    return db.session.get(Client, client_id)


def save_token(token: dict[str, Any], request: Any) -> None:
    """Store the issued tokens' digests under the grant they descend from."""
    parent = request.authorization_code or request.refresh_token
    refresh_token = token.get("refresh_token")
    db.session.add(
        Token(
            grant_id=parent.grant_id,
            client_id=request.client.client_id,
            user_id=request.user.id,
            scope=token["scope"],
            access_token_hash=digest(token["access_token"]),
            refresh_token_hash=digest(refresh_token) if refresh_token else None,
            expires_in=token["expires_in"],
        )
    )
    db.session.commit()


class ProviderIssuerParameter(IssuerParameter):
    """RFC 9207: name this issuer in every authorization response, so a client talking to
    several providers can tell which one answered (mix-up defence).
    """

    def get_issuer(self) -> str:
        """The configured issuer, never derived from the request's Host header."""
        return current_app.config["DEMO_PROVIDER_ISSUER"]


class TokenRevocationEndpoint(RevocationEndpoint):
    """RFC 7009 revocation for authenticated clients, with no oracle for other clients' tokens."""

    CLIENT_AUTH_METHODS = grants.CLIENT_AUTH_METHODS

    def check_params(self, request, client):
        """Only `token` is required; an unknown hint just widens the search (RFC 7009 2.1)."""
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token'.")

    def authenticate_token(self, request, client):
        """The token if it belongs to this client; another client's token is left alone."""
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # Answer 200 either way, so the endpoint cannot be used to test whether a string is a
        # live token of some other client.
        if token is None or not token.check_client(client):
            return None
        return token

    def query_token(self, token_string, token_type_hint):
        """Look the string up as the hinted type first, then as the other."""
        lookups = [Token.find_by_access_token, Token.find_by_refresh_token]
        if token_type_hint == REFRESH_TOKEN_HINT:
            lookups.reverse()
        for lookup in lookups:
            token = lookup(token_string)
            if token is not None:
                return token
        return None

    def revoke_token(self, token, request):
        """A refresh token takes its whole grant with it; an access token goes alone."""
        if token.holds_refresh_token(request.form["token"]):
            token.grant.revoke()
        else:
            token.revoke_access_token()


class ProviderAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, configured for this provider."""

    def __init__(self) -> None:
        super().__init__(query_client=query_client, save_token=save_token)
        self.issuer_parameter = ProviderIssuerParameter()
        self.register_extension(self.issuer_parameter)
        self.register_grant(
            grants.AuthorizationCodeGrant,
            [grants.S256CodeChallenge(), grants.OpenIDCodeExtension()],
        )
        self.register_grant(grants.RefreshTokenGrant, [grants.OpenIDRefreshExtension()])
        self.register_endpoint(TokenRevocationEndpoint)

    def load_config(self, config):
        """Use this provider's token generator and scope list instead of Authlib's defaults."""
        self.register_token_generator("default", issue_bearer_token)
        self.scopes_supported = list(scopes.SUPPORTED)

    def authorization_error_redirect(self, error: OAuth2Error) -> Response:
        """Send an error back to the client's verified redirect URI, with `state` and `iss`."""
        response = self.handle_error_response(None, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response


def init_app(app: Flask) -> None:
    """Give `app` its own authorization server."""
    authorization = ProviderAuthorizationServer()
    authorization.init_app(app)
    app.extensions[EXTENSION_KEY] = authorization


def authorization_server() -> ProviderAuthorizationServer:
    """The authorization server of the provider app handling this request."""
    return current_app.extensions[EXTENSION_KEY]


class AccessTokenValidator(BearerTokenValidator):
    """Accepts this provider's live access tokens (never refresh tokens or ID tokens)."""

    def authenticate_token(self, token_string):
        """The token row for this access token, if any."""
        return Token.find_by_access_token(token_string)


class BearerResourceProtector(ResourceProtector):
    """Authlib's resource protector, answering with RFC 6750 `WWW-Authenticate` challenges."""

    def raise_error_response(self, error):
        """Abort with a JSON error and the matching Bearer challenge."""
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        if isinstance(error, MissingAuthorizationError | UnsupportedTokenTypeError):
            # RFC 6750 section 3.1: no error code when the request had no bearer token at all.
            challenge = "Bearer"
        elif isinstance(error, InsufficientScopeError):
            challenge = 'Bearer error="insufficient_scope"'
        else:
            challenge = f'Bearer error="{error.error}"'
        headers.append(("WWW-Authenticate", challenge))
        body = json.dumps(dict(error.get_body()))
        abort(Response(body, status=error.status_code, headers=headers))


# The Authorization header is the only place a token is read from: a token in the query string
# ends up in logs and Referer headers (RFC 6750 section 5.3).
require_token = BearerResourceProtector()
require_token.register_token_validator(AccessTokenValidator())
