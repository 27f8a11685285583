"""The resource server's gate in front of userinfo and the API: which access tokens it accepts,
sent how, and the `WWW-Authenticate` challenges it answers with (RFC 6750 for Bearer tokens,
RFC 9449 section 7 for DPoP-bound ones).

A bearer token works for whoever holds it. A DPoP-bound token works only with a fresh proof,
signed by the key it is bound to, naming this request and this token (`ath`): so it is refused
when sent as a plain Bearer token (the downgrade would drop the proof), and a bearer token is
refused when sent under the DPoP scheme (there is no key to check the proof against).
"""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from flask import Response, abort, current_app, json
from flask import request as http_request

from demo_provider import dpop, dpop_nonces
from demo_provider.models import Token

BEARER = "Bearer"
DPOP = "DPoP"


class ScopeRequiredError(InsufficientScopeError):
    """The token is valid but lacks the scope the resource needs; names that scope."""

    def __init__(self, required: list[str]) -> None:
        super().__init__()
        self.required = required


class DpopTokenError(InvalidTokenError):
    """A token that may only be used under the DPoP scheme, or a DPoP-bound one refused."""

    scheme = DPOP


class AccessTokenValidator(BearerTokenValidator):
    """What the resource server (userinfo and /api/*) accepts as `Authorization: Bearer`: a live
    access token this provider issued, to any registered client, carrying the scope the resource
    needs, and not bound to a DPoP key.

    That is what "audience" means here: the provider's own API is the audience of every access
    token it issues, and the scope says which part of it a token may call. Anything else is for
    another audience and is `invalid_token`: a refresh token (meant only for the token endpoint),
    an ID token (its `aud` is the client, which must not replay it as a credential), a token from
    another issuer. Bearer tokens are not bound to the client presenting them (RFC 6750): another
    client holding a copy gets no more than the token's scope, which is why leaks are kept short
    (a few minutes' lifetime) and narrow (scope), and why DPoP exists.
    """

    def authenticate_token(self, token_string):
        """The token row for this access token, if any (refresh tokens are stored apart)."""
        return Token.find_by_access_token(token_string)

    def validate_token(self, token, scopes, request):
        """Refuse an unknown, expired or revoked token, a DPoP-bound one, then one without the
        required scope.
        """
        _check_live(token)
        if token.dpop_jkt is not None:
            raise DpopTokenError(description="This token is DPoP-bound: send it with a proof.")
        if current_app.config["DEMO_PROVIDER_REQUIRE_DPOP"]:
            # Issued before the switch was turned on; every token must now be bound.
            raise DpopTokenError(description="This provider accepts DPoP-bound tokens only.")
        _check_scope(self, token, scopes)


class DpopAccessTokenValidator(AccessTokenValidator):
    """What the resource server accepts as `Authorization: DPoP`: a live DPoP-bound access token
    with a valid proof of its key for this request (RFC 9449 section 7.1).
    """

    TOKEN_TYPE = "dpop"  # noqa: S105 -- an authorization scheme, not a credential

    def validate_token(self, token, scopes, request):
        """The token checks, then the proof (with `ath` and the bound key), then the scope."""
        _check_live(token, scheme=DPOP)
        if token.dpop_jkt is None:
            raise DpopTokenError(description="This token is not DPoP-bound: send it as Bearer.")
        # Authlib passes its own request wrapper; the proof is checked against the HTTP request.
        dpop.check_proof(
            http_request.headers.getlist(dpop.HEADER),
            method=http_request.method,
            url=dpop.issuer_url(http_request.path),
            access_token=_presented_token(),
            bound_jkt=token.dpop_jkt,
        )
        _check_scope(self, token, scopes)


def _check_live(token: Token | None, scheme: str = BEARER) -> None:
    """Refuse an unknown, expired or revoked token."""
    if token is None or token.is_expired() or token.is_revoked():
        raise DpopTokenError() if scheme == DPOP else InvalidTokenError()


def _check_scope(validator: BearerTokenValidator, token: Token, scopes) -> None:
    """Refuse a token without the scope the resource needs."""
    if validator.scope_insufficient(token.get_scope(), scopes):
        raise ScopeRequiredError(list(scopes or []))


def _presented_token() -> str:
    """The token as sent after the scheme, which is what a proof's `ath` hashes."""
    return http_request.headers.get("Authorization", "").split(None, 1)[1]


def _presented_scheme() -> str:
    """DPoP when the request used that scheme, Bearer otherwise."""
    scheme = http_request.headers.get("Authorization", "").split(None, 1)[:1]
    return DPOP if scheme and scheme[0].lower() == "dpop" else BEARER


class ProviderResourceProtector(ResourceProtector):
    """Authlib's resource protector, answering with Bearer or DPoP `WWW-Authenticate`
    challenges, always 401 for a DPoP problem (section 7.1), with a fresh `DPoP-Nonce` when a
    nonce is what was missing (section 9).
    """

    def raise_error_response(self, error):
        """Abort with a JSON error and the matching challenge."""
        headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
        ]
        status = error.status_code
        scheme = getattr(error, "scheme", None) or _presented_scheme()
        if isinstance(error, MissingAuthorizationError | UnsupportedTokenTypeError):
            # RFC 6750 section 3.1: no error code when the request had no usable token at all.
            # RFC 9449 section 7.1: a DPoP challenge names the algorithms proofs may use.
            dpop_only = current_app.config["DEMO_PROVIDER_REQUIRE_DPOP"]
            challenge = f'{DPOP} algs="{" ".join(dpop.ALGORITHMS)}"' if dpop_only else BEARER
        elif isinstance(error, ScopeRequiredError):
            # RFC 6750 section 3: name the scope a new token would need.
            challenge = f'{scheme} error="insufficient_scope", scope="{" ".join(error.required)}"'
        elif isinstance(error, InsufficientScopeError):
            challenge = f'{scheme} error="insufficient_scope"'
        elif isinstance(error, dpop.InvalidDpopProofError | dpop.UseDpopNonceError):
            status = 401
            challenge = f'{DPOP} error="{error.error}"'
            if isinstance(error, dpop.UseDpopNonceError):
                headers.append((dpop_nonces.HEADER, error.nonce))
        else:
            challenge = f'{scheme} error="{error.error}"'
        headers.append(("WWW-Authenticate", challenge))
        body = json.dumps(dict(error.get_body()))
        abort(Response(body, status=status, headers=headers))


# The Authorization header is the only place a token is read from: a token in the query string
# ends up in logs and Referer headers (RFC 6750 section 5.3).
require_token = ProviderResourceProtector()
require_token.register_token_validator(AccessTokenValidator())
require_token.register_token_validator(DpopAccessTokenValidator())
