"""What a provider publishes about itself: its discovery document and its signing keys, each
cached with a time-to-live, and checked before anything else trusts them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from oauth import http
from oauth.errors import ProviderMisconfigured, ProviderUnavailable
from oauth.provider import Provider

REQUIRED_OIDC_METADATA = ("authorization_endpoint", "token_endpoint", "jwks_uri")
# Endpoints this client sends people, secrets or tokens to, or takes its keys from.
CALLED_ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "end_session_endpoint",
)
MAX_DOCUMENT_BYTES = 512 * 1024


@dataclass
class _Entry:
    value: Any
    fetched_at: float
    #: Fetched again because a token named a key id the cached set lacked.
    refetched_for_unknown_key: bool = False


class MetadataCache:
    """Per-app cache of discovery documents and key sets, keyed by provider name."""

    def __init__(self) -> None:
        self.documents: dict[str, _Entry] = {}
        self.key_sets: dict[str, _Entry] = {}
        self.lock = threading.Lock()


def _cache() -> MetadataCache:
    return current_app.extensions["provider_metadata"]


def _fetch_json(provider: Provider, url: str, what: str) -> dict[str, Any]:
    """A JSON object the provider publishes (discovery document, key set)."""
    document = http.json_of(
        provider,
        http.get(provider, url, what=what),
        what=what,
        max_bytes=MAX_DOCUMENT_BYTES,
        malformed=ProviderMisconfigured,
    )
    if not isinstance(document, dict):
        raise ProviderMisconfigured(f"{what}_not_json", f"{provider.title} sent malformed data.")
    return document


def server_metadata(provider: Provider) -> dict[str, Any]:
    """The provider's endpoints: from discovery for OpenID providers, else from its module."""
    if provider.issuer is None:
        return dict(provider.endpoints)
    cache = _cache()
    ttl = current_app.config["PROVIDER_METADATA_TTL"]
    entry = cache.documents.get(provider.name)
    if entry is None or time.monotonic() - entry.fetched_at > ttl:
        # OpenID Connect Discovery §4: a path in the issuer loses its trailing slash first.
        url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = _fetch_json(provider, url, "discovery")
        _check_discovery(provider, document)
        entry = cache.documents[provider.name] = _Entry(document, time.monotonic())
    return {**entry.value, **provider.endpoints}


def cached_metadata(provider: Provider) -> dict[str, Any] | None:
    """The provider's discovery document if it is cached, without fetching it."""
    entry = _cache().documents.get(provider.name)
    return entry.value if entry is not None else None


def _check_discovery(provider: Provider, document: dict[str, Any]) -> None:
    # Discovery §4.3: the document must name exactly the issuer we configured. Otherwise
    # another issuer could be impersonating it, and every later `iss` check would be hollow.
    if document.get("issuer") != provider.issuer:
        raise ProviderMisconfigured(
            "issuer_mismatch",
            f"{provider.title} reports a different issuer than the one configured here.",
        )
    missing = [key for key in REQUIRED_OIDC_METADATA if not isinstance(document.get(key), str)]
    if missing:
        raise ProviderMisconfigured(
            "discovery_incomplete",
            f"{provider.title}'s discovery document lacks {', '.join(missing)}.",
        )
    unsafe = _unsafe_endpoints(provider, document)
    if unsafe:
        raise ProviderMisconfigured(
            "discovery_unsafe_endpoint",
            f"{provider.title}'s discovery document names unsafe URLs for {', '.join(unsafe)}.",
        )


def _unsafe_endpoints(provider: Provider, document: dict[str, Any]) -> list[str]:
    """The called endpoints whose URL would take the client secret, an access token or the
    signing keys somewhere other than an absolute http(s) address at least as safe as the issuer.

    A plain-http endpoint under an https issuer would give the secret to anyone on the path;
    `http://issuer@evil.example/` names the host after the `@` (PYSEC-2026-4354); `file:` and
    other schemes, or a relative URL, are not the provider's web server at all.
    """
    keys = list(CALLED_ENDPOINTS)
    if not provider.profile_endpoint.startswith(("https://", "http://")):
        keys.append(provider.profile_endpoint)
    # An http issuer (the demo provider on a laptop) already trusts plain http for discovery.
    schemes = {"https"} if urlsplit(provider.issuer or "").scheme == "https" else {"https", "http"}
    return [
        key
        for key in keys
        if document.get(key) is not None and not _is_safe_url(document[key], schemes)
    ]


def _is_safe_url(value: object, schemes: set[str]) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return url.scheme in schemes and bool(url.hostname) and "@" not in url.netloc


def key_set(provider: Provider, *, refetch: bool = False) -> KeySet:
    """The provider's public signing keys, from its `jwks_uri` only.

    With `refetch`, fetch again: a token names a key id the cached set lacks, so the provider
    may have rotated its key in. The first such refetch happens at once, even a second after the
    last fetch (a provider may rotate just after we fetched). Only a further unknown key id
    within JWKS_MIN_REFETCH_INTERVAL of that refetch waits: an attacker sending tokens with
    random key ids gets one extra fetch per interval, never a storm against the provider.
    """
    cache = _cache()
    config = current_app.config
    entry = cache.key_sets.get(provider.name)
    now = time.monotonic()
    stale = entry is None or now - entry.fetched_at > config["PROVIDER_METADATA_TTL"]
    may_refetch = (
        entry is None
        or not entry.refetched_for_unknown_key
        or now - entry.fetched_at > config["JWKS_MIN_REFETCH_INTERVAL"]
    )
    if stale or (refetch and may_refetch):
        with cache.lock:
            current = cache.key_sets.get(provider.name)
            if current is entry:  # nobody refreshed it while we waited for the lock
                url = server_metadata(provider)["jwks_uri"]
                document = _fetch_json(provider, url, "jwks")
                entry = cache.key_sets[provider.name] = _Entry(
                    _signing_keys(provider, document),
                    time.monotonic(),
                    refetched_for_unknown_key=refetch and not stale,
                )
            else:
                entry = current
    return entry.value


def _signing_keys(provider: Provider, document: dict[str, Any]) -> KeySet:
    """Public signature keys from a JWKS; encryption keys and private members are ignored."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ProviderMisconfigured("jwks_malformed", f"{provider.title} sent a malformed JWKS.")
    usable = []
    for key in keys:
        if not isinstance(key, dict) or key.get("use", "sig") != "sig":
            continue
        public = {name: value for name, value in key.items() if name not in _PRIVATE_MEMBERS}
        usable.append(public)
    try:
        return KeySet.import_key_set({"keys": usable})
    except (ValueError, TypeError, KeyError, JoseError) as error:
        raise ProviderMisconfigured(
            "jwks_malformed", f"{provider.title} sent a JWKS this app cannot read."
        ) from error


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})


def check(provider: Provider) -> str | None:
    """What is wrong with the provider's published configuration, or None when it is usable."""
    try:
        server_metadata(provider)
        if provider.is_oidc:
            key_set(provider)
    except (ProviderUnavailable, ProviderMisconfigured) as error:
        return f"{error.reason}: {error.message}"
    return None
