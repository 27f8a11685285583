"""Pushed authorization requests (RFC 9126): the authorization request goes from this app to the
provider's PAR endpoint, server to server and with client authentication, and the browser
carries only the opaque `request_uri` it gets back. Nothing of the request (scope, redirect URI,
PKCE challenge, state, nonce) can then be read or altered in the browser or the address bar, and
the provider knows before the person arrives that the request came from this client.

`<NAME>_PAR`: `auto` uses it when the discovery document advertises the endpoint, `required`
refuses to sign in without it, `off` never uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests

from oauth import api, http, metadata, signals
from oauth.errors import ProviderMisconfigured, ProviderUnavailable, SignInRejected
from oauth.provider import Provider

# A PAR response is two short members; anything larger is not one.
MAX_RESPONSE_BYTES = 16 * 1024
MAX_REQUEST_URI_LENGTH = 2048
# FAPI 2.0 §5.3.2.2 (12): a request_uri lives less than 600 s. A longer-lived one is a handle to a
# prepared sign-in that whoever sees the URL can open for longer than the person needs.
FAPI2_MAX_REQUEST_URI_LIFETIME = 600


def endpoint(provider: Provider) -> str | None:
    """The provider's PAR endpoint if this sign-in should use it, else None."""
    if provider.par == "off" or not provider.is_oidc:
        return None
    document = metadata.server_metadata(provider)
    url = document.get("pushed_authorization_request_endpoint")
    if isinstance(url, str) and url:
        return url
    if provider.par == "required" or document.get("require_pushed_authorization_requests"):
        raise ProviderMisconfigured(
            "par_not_supported",
            f"{provider.title} does not offer pushed authorization requests, which this "
            "site requires for it.",
        )
    return None


def push(provider: Provider, client, url: str, parameters: Mapping[str, str]) -> str:
    """POST the authorization request's parameters to the PAR endpoint; return the
    `request_uri` to send the browser with. `client` is the Authlib session that carries this
    app's client authentication."""
    signals.pushed_authorization_request_sent.announce(
        provider=provider, endpoint=url, parameters=tuple(parameters.items())
    )
    try:
        response = client.post(
            url,
            data=dict(parameters),
            auth=client.client_auth(client.token_endpoint_auth_method),
            timeout=http.timeout(),
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise ProviderUnavailable(
            "par_unavailable", f"{provider.title} could not be reached."
        ) from error
    if response.status_code in (400, 401):
        # invalid_client, invalid_request...: the provider refused this app or its request. The
        # provider's own description is not shown: it is text from outside.
        raise SignInRejected(
            f"par_refused_{_error_code(response)}", f"{provider.title} refused the sign-in request."
        )
    if response.status_code not in (200, 201):
        raise ProviderUnavailable(
            f"par_http_{response.status_code}", f"{provider.title} is not answering properly."
        )
    answer = _json(provider, response)
    request_uri = answer.get("request_uri") if isinstance(answer, dict) else None
    if not isinstance(request_uri, str) or not 0 < len(request_uri) <= MAX_REQUEST_URI_LENGTH:
        raise ProviderUnavailable("par_malformed", f"{provider.title} sent malformed data.")
    if provider.profile == "fapi2":
        _check_fapi2_lifetime(provider, answer.get("expires_in"))
    signals.pushed_authorization_request_answered.announce(
        provider=provider, request_uri=request_uri, expires_in=answer.get("expires_in")
    )
    return request_uri


def authorization_url(authorization_endpoint: str, client_id: str, request_uri: str) -> str:
    """Where the browser goes: the authorization endpoint with `client_id` and `request_uri`
    only (RFC 9126 §4)."""
    separator = "&" if "?" in authorization_endpoint else "?"
    query = urlencode({"client_id": client_id, "request_uri": request_uri})
    return authorization_endpoint + separator + query


def _check_fapi2_lifetime(provider: Provider, expires_in: object) -> None:
    # RFC 9126 §2.2 makes expires_in required; FAPI 2.0 bounds it.
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or not 0 < expires_in < FAPI2_MAX_REQUEST_URI_LIFETIME
    ):
        raise ProviderMisconfigured(
            "par_lifetime_not_fapi2",
            f"{provider.title} keeps its pushed requests for longer than FAPI 2.0 allows "
            f"(under {FAPI2_MAX_REQUEST_URI_LIFETIME} seconds).",
        )


def _json(provider: Provider, response: requests.Response) -> Any:
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ProviderUnavailable("par_too_large", f"{provider.title} sent too much data.")
    try:
        return response.json()
    except ValueError as error:
        raise ProviderUnavailable(
            "par_malformed", f"{provider.title} sent malformed data."
        ) from error


def _error_code(response: requests.Response) -> str:
    try:
        body = response.json() if len(response.content) <= MAX_RESPONSE_BYTES else {}
    except ValueError:
        body = {}
    return api.safe_code(body.get("error") if isinstance(body, dict) else None)
