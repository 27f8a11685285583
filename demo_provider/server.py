"""The provider's Authlib wiring: the authorization server created per app, with its grants,
token issuing (DPoP-bound when the request proves a key), client authentication (secrets,
private_key_jwt), revocation, pushed authorization requests and RFC 9207 `iss`.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import unquote

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    UnsupportedResponseTypeError,
    scope_to_list,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, current_app, request

from demo_provider import client_assertions, dpop, dpop_nonces, grants, par, scopes, throttling
from demo_provider.extensions import db
from demo_provider.models import PRIVATE_KEY_JWT, Client, Token

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
    """Store the issued tokens' digests under the grant of the code or refresh token redeemed,
    bound to the DPoP key the request proved, if any.
    """
    parent = request.authorization_code or request.refresh_token
    grants.store_token(
        token,
        grant_id=parent.grant_id,
        client_id=request.client.client_id,
        user_id=request.user.id,
        dpop_jkt=grants.proof_key(request),
    )


def basic_credentials(headers: Any) -> tuple[str, str] | None:
    """The client_id and secret of an HTTP Basic Authorization header, each form-decoded
    (RFC 6749 section 2.3.1), or None when there is none or it is malformed.

    Used instead of Authlib's parser, which raises on a blank header or on bytes that are not
    UTF-8, turning a garbled header into a server error.
    """
    parts = (headers.get("Authorization") or "").split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        # Strictly: ASCII base64 and nothing else. Header values arrive as Latin-1 text, and
        # b64decode raises a plain ValueError on non-ASCII text (not binascii.Error), or would
        # silently skip characters outside the alphabet without validate=True.
        raw = base64.b64decode(parts[1].strip().encode("ascii"), validate=True)
        decoded = raw.decode("utf-8")
    except ValueError:
        # binascii.Error and the Unicode errors are all ValueErrors.
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote(client_id), unquote(secret)


def authenticate_client_secret_basic(query_client: Any, request: Any) -> Client | None:
    """The client whose id and secret are in the Basic header, if they match."""
    credentials = basic_credentials(request.headers)
    if credentials is None or not all(credentials):
        return None
    client_id, secret = credentials
    client = query_client(client_id)
    if client is None or not client.check_client_secret(secret):
        return None
    return client


class ProviderIssuerParameter(IssuerParameter):
    """RFC 9207: name this issuer in every authorization response, so a client talking to
    several providers can tell which one answered (mix-up defence).
    """

    def get_issuer(self) -> str:
        """The configured issuer, never derived from the request's Host header."""
        return current_app.config["DEMO_PROVIDER_ISSUER"]

    def add_issuer_parameter(self, authorization_server, response):
        """Add `iss` beside the other response parameters: in the query, or in the fragment for
        the implicit grant (registered redirect URIs have no fragment, so one means that).
        """
        if response.location:
            in_fragment = "#" in response.location
            response.location = add_params_to_uri(
                response.location, {"iss": self.get_issuer()}, fragment=in_fragment
            )


class TokenRevocationEndpoint(RevocationEndpoint):
    """RFC 7009 revocation by the client a token was issued to (confidential clients with their
    secret, public ones by client_id, section 2.1), with no oracle for other clients' tokens.
    """

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


class TooManyFailedAuthentications(InvalidClientError):
    """A caller whose client authentication failed again after failing too often recently."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            description="Too many failed client authentications; retry later.", status_code=429
        )
        self.retry_after = retry_after

    def get_headers(self):
        """JSON headers and how long to wait."""
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class ProviderAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, configured for this provider."""

    # Longer than any registered client_id, so distinct real ones never share a throttling key.
    _CLIENT_ID_KEY_LENGTH = 128

    def __init__(self, *, legacy_implicit: bool = False) -> None:
        super().__init__(query_client=query_client, save_token=save_token)
        self.client_auth_failures = throttling.ClientAuthenticationThrottle()
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
        self.register_client_auth_method(PRIVATE_KEY_JWT, client_assertions.PrivateKeyJwt())
        self.issuer_parameter = ProviderIssuerParameter()
        self.register_extension(self.issuer_parameter)
        self.register_grant(
            grants.AuthorizationCodeGrant,
            [grants.S256CodeChallenge(), grants.OpenIDCodeExtension()],
        )
        self.register_grant(grants.RefreshTokenGrant, [grants.OpenIDRefreshExtension()])
        self.register_endpoint(TokenRevocationEndpoint)
        self.register_endpoint(par.PushedAuthorizationRequestEndpoint)
        self.response_types = set(grants.AuthorizationCodeGrant.RESPONSE_TYPES)
        if legacy_implicit:
            # The lab only (see `settings`); the grant itself serves only lab clients.
            self.register_grant(grants.LegacyImplicitGrant)
            self.response_types |= grants.LegacyImplicitGrant.RESPONSE_TYPES

    def load_config(self, config):
        """Use this provider's token generator and scope list instead of Authlib's defaults."""
        self.register_token_generator("default", issue_bearer_token)
        self.scopes_supported = list(scopes.SUPPORTED)

    def create_oauth2_request(self, request):
        """An OAuth2Request for the HTTP request being served, or `request` itself when it is
        one already (pushed parameters, a token request whose DPoP proof was checked).
        """
        if isinstance(request, OAuth2Request):
            return request
        oauth_request = super().create_oauth2_request(request)
        # The thumbprint of the DPoP key the token request proved, set by create_token_response.
        oauth_request.dpop_jkt = None
        return oauth_request

    def create_token_response(self, request=None):
        """Check the request's DPoP proof first (RFC 9449 section 5), then redeem the grant. The
        proof comes first so that a client asked to retry with a nonce has spent nothing: its
        code, refresh token and assertion are still unused.
        """
        oauth_request = self.create_oauth2_request(request)
        try:
            oauth_request.dpop_jkt = dpop.key_of_token_request(
                dpop.issuer_url("/token"),
                required=current_app.config["DEMO_PROVIDER_REQUIRE_DPOP"],
            )
        except OAuth2Error as error:
            response = self.handle_error_response(oauth_request, error)
        else:
            response = super().create_token_response(oauth_request)
        if dpop_nonces.required():
            # Section 8.2: a fresh nonce with every answer saves the client a round trip later.
            response.headers[dpop_nonces.HEADER] = dpop_nonces.current()
        return response

    def create_endpoint_response(self, name, request=None):
        """As Authlib does, with the fresh DPoP nonce on PAR answers too (see above)."""
        response = super().create_endpoint_response(name, request)
        if response is not None and name == par.ENDPOINT_NAME and dpop_nonces.required():
            response.headers[dpop_nonces.HEADER] = dpop_nonces.current()
        return response

    def authenticate_client(self, request, methods, endpoint="token"):
        """The client proven by its secret (compared in constant time, see `Client`) or by a
        signed assertion (`client_assertions`), or a public client by its client_id alone, at the
        token, PAR and revocation endpoints. Every failure gets the same 401 `invalid_client`
        with a Basic challenge (RFC 6749 section 5.2), so an unknown client_id and a wrong
        secret or assertion cannot be told apart, and a caller that keeps failing gets 429 for a
        while.
        """
        # The credentials are checked before the throttle is consulted, and correct ones always
        # pass. The throttle counts per claimed client_id and address, and behind a proxy every
        # caller shares one address: refusing before checking would let anyone who knows the
        # (public) client_id lock the real client out with a few wrong guesses. What that gives
        # up, stopping guessing, is not needed here: secrets are 256-bit random values (from
        # `clients register`, and the one the client app generates), which no rate of guessing
        # reaches. The throttle only tells a caller that keeps failing to back off.
        if current_app.config["DEMO_PROVIDER_REQUIRE_PRIVATE_KEY_JWT"]:
            # No shared secret, and no client that proves nothing, is accepted at all.
            methods = [method for method in methods if method == PRIVATE_KEY_JWT]
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            key = (self._claimed_client_id(request), _client_address())
            wait = self.client_auth_failures.retry_after(key)
            # Counted even while refused, so a caller that never stops stays refused.
            self.client_auth_failures.record_failure(key)
            if wait:
                raise TooManyFailedAuthentications(wait) from None
            raise InvalidClientError(
                status_code=401, description="Client authentication failed."
            ) from None

    def _claimed_client_id(self, request) -> str | None:
        """The client_id the caller claims, from the Basic header or the form, size-bounded."""
        credentials = basic_credentials(request.headers)
        client_id = credentials[0] if credentials else request.form.get("client_id")
        return client_id[: self._CLIENT_ID_KEY_LENGTH] if client_id else None

    def get_authorization_grant(self, request):
        """The grant for this `response_type`: only `code`, unless the implicit lab is on. The
        implicit `token`, a bare `id_token` and the hybrid `code id_token` deliver tokens in the
        browser's address bar, where history, logs and Referer headers leak them (RFC 9700
        section 2.1.2).
        """
        if request.payload.response_type not in self.response_types:
            # Authlib would quote the value in the description, and refuses to build the error
            # when it holds a character RFC 6749 forbids there (a crash on hostile input).
            raise UnsupportedResponseTypeError(
                request.payload.response_type,
                "Only response_type=code is supported."
                if "token" not in self.response_types
                else "Only response_type=code (and token, in the implicit lab) is supported.",
                redirect_uri=self.verified_redirect_uri(request),
            )
        return super().get_authorization_grant(request)

    def verified_redirect_uri(self, request) -> str | None:
        """The request's redirect_uri if it is registered for its client, else None: an error may
        only be sent to an address the client registered (RFC 6749 section 4.1.2.1).
        """
        client = self.query_client(request.payload.client_id) if request.payload.client_id else None
        redirect_uri = request.payload.redirect_uri
        if client is None or not redirect_uri or not client.check_redirect_uri(redirect_uri):
            return None
        return redirect_uri

    def authorization_error_redirect(self, error: OAuth2Error) -> Response:
        """Send an error back to the client's verified redirect URI, with `state` and `iss`."""
        response = self.handle_error_response(None, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response


def init_app(app: Flask) -> None:
    """Give `app` its own authorization server."""
    authorization = ProviderAuthorizationServer(
        legacy_implicit=app.config["DEMO_PROVIDER_LEGACY_IMPLICIT"]
    )
    authorization.init_app(app)
    app.extensions[EXTENSION_KEY] = authorization


def authorization_server() -> ProviderAuthorizationServer:
    """The authorization server of the provider app handling this request."""
    return current_app.extensions[EXTENSION_KEY]


def _client_address() -> str | None:
    """The address the request came from (the proxy's, unless the app trusts X-Forwarded-For)."""
    return request.remote_addr
