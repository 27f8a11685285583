"""Using DPoP (RFC 9449) with a provider: whether to, with which algorithm, the proof each token
request and API call carries, the provider's current nonce, and the one retry a nonce error
earns. The proofs themselves are built in `oauth.dpop`.

A DPoP-bound token is useless without the private key that signs the proofs: a token copied out
of a log, a proxy or the database cannot be replayed. Each link has its own key, made when the
sign-in starts, kept encrypted like the tokens, and used for every refresh and API call after.

`<NAME>_DPOP`: `auto` uses it when the discovery document lists
`dpop_signing_alg_values_supported`, `required` refuses to sign in without it, `off` never does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.client import DEFAULT_HEADERS
from flask import current_app

from oauth import dpop, metadata, signals
from oauth.errors import ProviderMisconfigured, SignInRejected
from oauth.provider import Provider

# The algorithms this client signs proofs with, most preferred first (ES256: small and fast).
# Ed25519 and EdDSA are one algorithm under two names (`client_keys.ED25519_NAMES`): the key
# made for a provider takes the name it lists, RFC 9864's first.
PREFERENCE = ("ES256", "Ed25519", "EdDSA", "PS256")
Answer = TypeVar("Answer")


def algorithm(provider: Provider) -> str | None:
    """The algorithm to sign this provider's proofs with, or None when DPoP is not to be used."""
    if provider.dpop == "off" or not provider.is_oidc:
        return None
    offered = metadata.server_metadata(provider).get("dpop_signing_alg_values_supported")
    usable = [alg for alg in PREFERENCE if isinstance(offered, list) and alg in offered]
    if usable:
        return usable[0]
    if provider.dpop == "required":
        raise ProviderMisconfigured(
            "dpop_not_supported",
            f"{provider.title} does not offer DPoP-bound tokens, which this site requires for it.",
        )
    return None


def check_token_type(provider: Provider, key, token: dict[str, Any]):
    """The key to keep with this token response: the proof key when the provider bound the
    tokens to it (`token_type` DPoP), None when it issued bearer tokens anyway, which is refused
    when DPoP is required (a bearer token would be as good as stolen the day it leaks)."""
    if key is None:
        return None
    if str(token.get("token_type", "")).lower() == "dpop":
        return key
    if provider.dpop == "required":
        raise SignInRejected(
            "dpop_not_bound", f"{provider.title} did not bind the tokens to this app's key."
        )
    return None


def remember_nonce(provider: Provider, response: requests.Response, *args, **kwargs) -> None:
    """Keep the provider's latest `DPoP-Nonce` for the next proof (a requests response hook)."""
    nonce = dpop.nonce_from(response.headers)
    if nonce is not None:
        current_app.extensions.setdefault("dpop_nonces", {})[provider.name] = nonce


def attach(provider: Provider, client) -> None:
    """Have an Authlib session remember the nonces in the provider's answers."""
    client.hooks["response"].append(lambda response, *a, **k: remember_nonce(provider, response))


def proof_headers(
    provider: Provider, key, method: str, url: str, access_token: str | None = None
) -> dict[str, str]:
    """The `DPoP` header for one request (with `ath` when it carries an access token)."""
    nonce = current_app.extensions.get("dpop_nonces", {}).get(provider.name)
    proof = dpop.proof(key, method=method, url=url, nonce=nonce, access_token=access_token)
    if signals.dpop_proof_made.heard():
        signals.dpop_proof_made.announce(
            provider=provider,
            method=method,
            url=dpop.target_uri(url),
            key_thumbprint=dpop.thumbprint(key),
            nonce=nonce is not None,
            access_token_hash=access_token is not None,
        )
    return {"DPoP": proof}


def token_request(send: Callable[[dict[str, str] | None], Answer], provider: Provider, key, url):
    """Send a token request through Authlib (`send(headers)`; None: its default headers), with
    a proof when `key` is set; on `use_dpop_nonce`, once more with the nonce the answer carried,
    and no more (a provider that keeps asking is refused, not looped on)."""
    if key is None:
        return send(None)
    try:
        return send({**DEFAULT_HEADERS, **proof_headers(provider, key, "POST", url)})
    except OAuthError as error:
        if error.error != dpop.NONCE_ERROR:
            raise
    return send({**DEFAULT_HEADERS, **proof_headers(provider, key, "POST", url)})


def api_request(
    send: Callable[[dict[str, str]], requests.Response],
    provider: Provider,
    key,
    url: str,
    access_token: str,
) -> requests.Response:
    """Call the API with `Authorization: DPoP <token>` and a proof bound to that token; on
    `use_dpop_nonce`, once more with the new nonce."""
    response = send(_api_headers(provider, key, url, access_token))
    remember_nonce(provider, response)
    if dpop.is_nonce_error(response.status_code, response.headers, None):
        response = send(_api_headers(provider, key, url, access_token))
        remember_nonce(provider, response)
    return response


def _api_headers(provider: Provider, key, url: str, access_token: str) -> dict[str, str]:
    return {
        "Authorization": f"DPoP {access_token}",
        **proof_headers(provider, key, "GET", url, access_token=access_token),
    }
