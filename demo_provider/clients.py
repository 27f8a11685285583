"""Client registration: the clients named in the configuration (redirect URIs and optional
post-logout redirect URIs) are checked and upserted into the provider's database at start, with
their secrets stored only as digests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from demo_provider.extensions import db
from demo_provider.models import Client, PostLogoutRedirectUri, digest

_LOOPBACK_NAMES = {"localhost"}


def register(registrations: Iterable[Mapping[str, Any]]) -> None:
    """Create or update each configured client, and commit."""
    for registration in registrations:
        for uri in registration["redirect_uris"]:
            check_redirect_uri(uri)
        post_logout_uris = list(dict.fromkeys(registration.get("post_logout_redirect_uris", [])))
        for uri in post_logout_uris:
            # The person's browser is sent there after logout, so the same rules apply.
            check_redirect_uri(uri, kind="Post-logout redirect URI")
        client = db.session.get(Client, registration["client_id"])
        if client is None:
            client = Client(client_id=registration["client_id"])
            db.session.add(client)
        client.client_secret_hash = digest(registration["client_secret"])
        client.client_name = registration["client_name"]
        client.redirect_uris = list(registration["redirect_uris"])
        client.scope = registration["scope"]
        if client.post_logout_redirect_uris != post_logout_uris:
            client.post_logout_redirects = [
                PostLogoutRedirectUri(uri=uri) for uri in post_logout_uris
            ]
    db.session.commit()


def check_redirect_uri(uri: str, kind: str = "Redirect URI") -> None:
    """Refuse a redirect URI that could leak codes: it must be absolute, https (plain http only
    for loopback), with no fragment and no user:password part (RFC 9700 section 2.1, 4.1).
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{kind} must be an absolute http(s) URL: {uri!r}")
    if parts.fragment or "#" in uri:
        raise ValueError(f"{kind} must not contain a fragment: {uri!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError(f"{kind} must not contain user information: {uri!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{kind} must use https unless it is a loopback address: {uri!r}")


def _is_loopback(hostname: str) -> bool:
    """Whether the host is this machine (where plain http cannot be observed on the wire)."""
    if hostname in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
