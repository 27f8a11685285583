"""The public keys a `private_key_jwt` client signs its assertions with (OIDC Core section 9,
RFC 7591 `jwks` / `jwks_uri`): checked when the client is registered, and looked up when it
authenticates, either inline from its registration or fetched from its `jwks_uri`.

A fetched key set is cached briefly, so a burst of token requests costs one fetch, and fetched
again early when an assertion names a key id it does not hold, so a client can rotate its keys
by publishing the new one first. Every fetch has a short timeout and a size limit: the token
endpoint must not hang on, or swallow, whatever a slow or broken address returns.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from demo_provider.models import Client

# Asymmetric keys only: with a symmetric (`oct`) key the provider would hold the client's
# signing secret, which is exactly what private_key_jwt exists to avoid.
KEY_TYPES = {"RSA", "EC", "OKP"}
# JWK members that belong to a private or symmetric key (RFC 7518 section 6, RFC 8037).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
MAX_BYTES = 64 * 1024
CACHE_SECONDS = 60
# An unknown key id triggers a new fetch at most this often, so assertions naming made-up key
# ids cannot make the provider hammer the client's server.
REFETCH_INTERVAL = 10
EXTENSION_KEY = "demo_provider.client_keys"

logger = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """The client's keys could not be obtained (no keys registered, or the fetch failed)."""


def check_jwks(value: Any) -> dict[str, Any]:
    """A registered JWK Set (a mapping, or its JSON text) holding only public asymmetric keys,
    returned as a mapping; ValueError otherwise.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("jwks must be a JWK Set in JSON") from None
    keys = value.get("keys") if isinstance(value, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError('jwks must be a JWK Set: {"keys": [...]} with at least one key')
    for key in keys:
        if not isinstance(key, Mapping) or key.get("kty") not in KEY_TYPES:
            raise ValueError("jwks may hold only RSA, EC and OKP public keys")
        if PRIVATE_MEMBERS & set(key):
            # A private key pasted by mistake must not be stored, let alone published.
            raise ValueError("jwks holds a private key; register the public keys only")
    try:
        KeySet.import_key_set(dict(value))
    except (JoseError, ValueError, TypeError, KeyError):
        raise ValueError("jwks holds a key that cannot be read") from None
    return {"keys": [dict(key) for key in keys]}


@dataclass
class _Fetched:
    keys: KeySet
    fetched_at: float


class _Cache:
    """Key sets fetched from `jwks_uri`s, by address, for this provider app."""

    def __init__(self) -> None:
        self.entries: dict[str, _Fetched] = {}
        self.lock = threading.Lock()


def key_set(client: Client, *, fresh: bool = False) -> KeySet:
    """The client's public keys: inline, or from its jwks_uri (cached unless `fresh`, which is
    honoured at most every REFETCH_INTERVAL seconds). KeysUnavailable when there are none.
    """
    registration = client.authentication
    if registration is None or not (registration.jwks or registration.jwks_uri):
        raise KeysUnavailable("The client registered no keys.")
    if registration.jwks:
        return KeySet.import_key_set(registration.jwks)
    uri = registration.jwks_uri
    cache: _Cache = current_app.extensions.setdefault(EXTENSION_KEY, _Cache())
    now = time.monotonic()
    cached = cache.entries.get(uri)
    if cached is not None:
        age = now - cached.fetched_at
        if age < CACHE_SECONDS and not (fresh and age >= REFETCH_INTERVAL):
            return cached.keys
    keys = _fetch(uri)
    with cache.lock:
        cache.entries[uri] = _Fetched(keys, now)
    return keys


def uses_jwks_uri(client: Client) -> bool:
    """Whether the client's keys are fetched (and so may change between two requests)."""
    return client.authentication is not None and bool(client.authentication.jwks_uri)


def _fetch(uri: str) -> KeySet:
    """GET the JWK Set at `uri`, within the timeouts and size limit, public keys only."""
    try:
        with requests.get(
            uri,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            headers={"Accept": "application/json"},
            # A redirect would take the fetch somewhere nobody registered.
            allow_redirects=False,
            stream=True,
        ) as response:
            response.raise_for_status()
            body = response.raw.read(MAX_BYTES + 1, decode_content=True)
        if len(body) > MAX_BYTES:
            raise ValueError("the key set is larger than accepted")
        return KeySet.import_key_set(check_jwks(json.loads(body)))
    except (requests.RequestException, ValueError, JoseError) as error:
        # Only the address and the kind of failure: the body is not logged.
        logger.warning("Could not fetch a client's keys from %s: %s", uri, type(error).__name__)
        raise KeysUnavailable("The client's jwks_uri could not be read.") from None
