"""Calls made with a user's tokens: the provider's API with the access token, and the token
endpoint with the refresh token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError

from oauth import challenges, dpop, http, idtoken, metadata, sender_constraint, signals
from oauth.errors import (
    AccessTokenRejected,
    GrantRevoked,
    InsufficientScope,
    ProviderMisconfigured,
    ProviderUnavailable,
    SignInRejected,
    StepUpRequired,
)
from oauth.provider import Profile, Provider

MAX_API_RESPONSE_BYTES = 1024 * 1024
# Token endpoint errors that mean "try again later" (RFC 6749 §4.1.2.1, and what 429 answers
# carry): the grant is fine, so the stored tokens stay as they are.
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})
# RFC 6749 §3.3: a scope token is printable ASCII without space, double quote or backslash.
_SCOPE_TOKEN = re.compile(rf"{challenges.NQCHAR}{{1,128}}")
# A challenge names the few scopes one resource needs; more than this is not a real answer.
MAX_CHALLENGE_SCOPES = 16


def endpoint(provider: Provider, key_or_url: str) -> str:
    """Resolve a metadata key such as `userinfo_endpoint` to its URL; URLs pass through."""
    if key_or_url.startswith(("https://", "http://")):
        return key_or_url
    url = metadata.server_metadata(provider).get(key_or_url)
    if not isinstance(url, str):
        raise ProviderMisconfigured("endpoint_missing", f"{provider.title} has no {key_or_url}.")
    return url


def get_json(provider: Provider, url: str, access_token: str, dpop_key=None) -> Any:
    """GET a provider API resource with the access token (in the Authorization header); with a
    DPoP proof signed by `dpop_key` when the token is bound to it."""
    signals.api_request_sent.announce(
        provider=provider, method="GET", url=url, access_token=access_token
    )
    if dpop_key is None:
        response = http.get(provider, url, what="api", access_token=access_token)
    else:
        response = sender_constraint.api_request(
            lambda headers: http.get(provider, url, what="api", extra_headers=headers),
            provider,
            dpop_key,
            url,
            access_token,
        )
    signals.api_response_received.announce(
        provider=provider, url=url, status_code=response.status_code, reason=response.reason
    )
    if response.status_code in (401, 403):
        _raise_for_challenge(provider, response.status_code, response.headers)
    if response.status_code == 401:
        if dpop_key is not None and dpop.challenge_error(response.headers) == "invalid_dpop_proof":
            # The proof, not the token, was refused (a clock far off, say): a refresh would
            # not help, and the tokens stay as they are.
            raise ProviderUnavailable(
                "api_dpop_proof_refused", f"{provider.title} refused this app's proof of its key."
            )
        raise AccessTokenRejected(
            "api_token_rejected", f"{provider.title} refused our access token."
        )
    return http.json_of(provider, response, what="api", max_bytes=MAX_API_RESPONSE_BYTES)


def _raise_for_challenge(provider: Provider, status: int, headers) -> None:
    """Turn the two challenges that ask for more than a new token into their own errors: a
    scope the token lacks (RFC 6750 §3.1, a 403) and a sign-in too old or too weak (RFC 9470,
    a 401). Either scheme: a DPoP-bound token is challenged under `DPoP` (RFC 9449 §7.1)."""
    error, params = challenges.error(headers, ("bearer", "dpop"))
    if status == 403 and error == "insufficient_scope":
        named = params.get("scope", "").split(" ")
        scopes = tuple(s for s in named if _SCOPE_TOKEN.fullmatch(s))[:MAX_CHALLENGE_SCOPES]
        raise InsufficientScope(
            "api_insufficient_scope",
            f"{provider.title} needs your permission for this.",
            scopes,
        )
    if status == 401 and error == "insufficient_user_authentication":
        acr_values = params.get("acr_values", "").split(" ")
        raise StepUpRequired(
            "api_step_up_required",
            f"{provider.title} wants you to sign in again for this.",
            # Only acr values that are scope-like tokens: they are sent on to the provider in
            # the next authorization request.
            acr_values=" ".join(v for v in acr_values if _SCOPE_TOKEN.fullmatch(v)) or None,
        )


def fetch_profile(provider: Provider, access_token: str, dpop_key=None) -> Profile:
    """The user's profile, live from the provider's API."""
    return provider.map_profile(
        fetch_resource(provider, provider.profile_endpoint, access_token, dpop_key)
    )


def fetch_resource(provider: Provider, url: str, access_token: str, dpop_key=None) -> Any:
    """A JSON object from another of the provider's APIs (`url`: a metadata key or a URL)."""
    payload = get_json(provider, endpoint(provider, url), access_token, dpop_key)
    if not isinstance(payload, Mapping):
        raise ProviderUnavailable("api_not_object", f"{provider.title} sent malformed data.")
    return payload


def check_token_response(provider: Provider, token: Mapping[str, Any], dpop_key=None) -> None:
    """A token response must carry a bearer access token (RFC 6749 §5.1, RFC 6750), or a
    DPoP-bound one when this request sent a proof (RFC 9449 §5): a DPoP token we hold no key
    for could not be used."""
    token_type = str(token.get("token_type", "")).lower()
    if token_type != "bearer" and not (token_type == "dpop" and dpop_key is not None):  # noqa: S105
        raise SignInRejected("token_type_not_bearer", f"{provider.title} sent an unusable token.")
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        raise SignInRejected("access_token_missing", f"{provider.title} sent no access token.")


def refresh(
    provider: Provider, refresh_token: str, original: Mapping[str, Any], dpop_key=None
) -> dict[str, Any]:
    """A new token set for a refresh token; `original` holds the linked identity's iss and sub;
    `dpop_key` is the link's proof key when its tokens are DPoP-bound (the same key, always).

    GrantRevoked when the provider answers `invalid_grant` (revoked, expired or reused refresh
    token); ProviderUnavailable for anything transient, so the caller keeps what it has.
    """
    client = http.oauth_session(provider)
    sender_constraint.attach(provider, client)
    token_endpoint = endpoint(provider, "token_endpoint")
    if signals.token_request_sent.heard():
        signals.token_request_sent.announce(
            provider=provider,
            endpoint=token_endpoint,
            grant_type="refresh_token",
            parameters=(("grant_type", "refresh_token"), ("refresh_token", refresh_token)),
            client_authentication=client.token_endpoint_auth_method,
        )
    try:
        token = dict(
            sender_constraint.token_request(
                lambda headers: client.refresh_token(
                    token_endpoint, refresh_token=refresh_token, headers=headers
                ),
                provider,
                dpop_key,
                token_endpoint,
            )
        )
    except OAuthError as error:
        if error.error == "invalid_grant":
            raise GrantRevoked(
                "refresh_invalid_grant", f"{provider.title} ended our access."
            ) from error
        if error.error in TRANSIENT_ERRORS:
            raise ProviderUnavailable(
                f"refresh_{error.error}", f"{provider.title} is busy or unavailable."
            ) from error
        raise ProviderMisconfigured(
            f"refresh_{safe_code(error.error)}", f"{provider.title} refused to refresh our access."
        ) from error
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(
            "refresh_unavailable", f"{provider.title} could not be reached."
        ) from error
    try:
        if signals.token_response_received.heard():
            signals.token_response_received.announce(
                provider=provider, grant_type="refresh_token", token=MappingProxyType(token)
            )
        check_token_response(provider, token, dpop_key)
        if (
            dpop_key is not None
            and sender_constraint.check_token_type(provider, dpop_key, token) is None
        ):
            # Bound before, bearer now: the provider quietly dropped the binding.
            raise SignInRejected(
                "dpop_binding_lost", f"{provider.title} stopped binding our tokens."
            )
        if provider.is_oidc and token.get("id_token"):
            # Core §12.2: a refreshed ID token must describe the same person from the same issuer.
            idtoken.validate(
                provider,
                token["id_token"],
                nonce=None,
                access_token=token["access_token"],
                original=original,
            )
    except SignInRejected as error:
        raise GrantRevoked(
            error.reason, f"{provider.title} sent a token we cannot trust."
        ) from error
    return token


def safe_code(value: object) -> str:
    """A provider error code reduced to characters safe for logs and pages."""
    text = str(value)[:40]
    return "".join(c for c in text if c.isalnum() or c == "_") or "unknown"


def revoke(provider: Provider, token: str, token_type_hint: str) -> bool:
    """Ask the provider to revoke a token (RFC 7009); True when it confirmed.

    Best effort by design: the caller deletes its copy whatever happens here, so a provider
    that is down cannot keep a token alive in this app's database.
    """
    try:
        url = metadata.server_metadata(provider).get("revocation_endpoint")
    except (ProviderUnavailable, ProviderMisconfigured):
        return False
    if not isinstance(url, str):
        return False
    client = http.oauth_session(provider)
    try:
        response = client.revoke_token(url, token=token, token_type_hint=token_type_hint)
    except requests.RequestException:
        return False
    return response.status_code == 200
