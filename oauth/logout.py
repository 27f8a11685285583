"""Signing out with the provider: ending the session there too (OpenID Connect RP-Initiated
Logout 1.0, for providers that publish an `end_session_endpoint`), and whether the provider ends
sessions here when a person signs out there (Back-Channel Logout 1.0; see `logout_token`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from oauth import metadata
from oauth.errors import ProviderError
from oauth.provider import Provider


def end_session_endpoint(provider: Provider) -> str | None:
    """The provider's logout endpoint, or None when it has none (or cannot be asked now)."""
    if not provider.is_oidc:
        return None
    try:
        url = metadata.server_metadata(provider).get("end_session_endpoint")
    except ProviderError:
        return None
    return url if isinstance(url, str) else None


def end_session_url(
    provider: Provider, *, id_token: str | None, return_to: str, state: str
) -> str | None:
    """Where to send the browser to sign out at the provider, then come back to `return_to`.

    The ID token names the session to end; `return_to` must be registered at the provider as a
    post-logout redirect URI, and `state` comes back with the browser so the app can tell that
    the return is the one it asked for.
    """
    endpoint = end_session_endpoint(provider)
    if endpoint is None:
        return None
    params = {
        "client_id": provider.client_id,
        "post_logout_redirect_uri": return_to,
        "state": state,
    }
    if id_token:
        params["id_token_hint"] = id_token
    separator = "&" if "?" in endpoint else "?"
    return endpoint + separator + urlencode(params)


def backchannel_logout_supported(provider: Provider) -> bool | None:
    """Whether the provider's discovery document says it sends back-channel logout tokens (and
    with `sid`, when `backchannel_logout_session_supported`); None when it cannot be asked now."""
    if not provider.is_oidc:
        return False
    try:
        document = metadata.server_metadata(provider)
    except ProviderError:
        return None
    return document.get("backchannel_logout_supported") is True
