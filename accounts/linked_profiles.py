"""What the profile page shows for each linked provider: the token's status and the user's profile
fetched live from the provider's API with a fresh access token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import oauth
import providers
from accounts import provider_calls, scopes, tokens
from models import LinkedAccount, LinkStatus, User


@dataclass(frozen=True)
class LinkedProfile:
    """One linked provider as the profile page shows it."""

    provider: str
    title: str
    #: "connected", "reconnect_needed" or "unavailable".
    status: str
    profile: oauth.Profile | None
    #: Granted, then asked for and not granted (unticked, refused, or taken back since).
    scopes: tuple[str, ...]
    declined_scopes: tuple[str, ...]
    expires_at: datetime | None
    refreshed_at: datetime | None
    message: str | None = None
    #: The provider can end its own session too (RP-Initiated Logout).
    provider_logout: bool = False
    #: A refresh token is stored, so "Refresh now" can work.
    refreshable: bool = False
    #: What this app does with the provider's API beyond sign-in (each a page of its own).
    features: tuple[oauth.Feature, ...] = ()


def for_user(user: User) -> list[LinkedProfile]:
    """Every linked provider of the user, each with a live profile when the provider allows it."""
    return [_load(link) for link in user.linked_accounts]


def _load(link: LinkedAccount) -> LinkedProfile:
    provider = providers.get(link.provider)
    title = provider.title if provider else link.provider
    if provider is None:
        return _view(link, title, "unavailable", None, "This provider is no longer offered here.")
    try:
        profile = _fetch(provider, link)
        # A refresh on the way wrote new tokens, expiry and scopes: show those.
        link = tokens.latest(link)
    except tokens.LinkRemoved:
        return _view(link, title, "unavailable", None, f"{title} was just unlinked.")
    except tokens.ReconnectNeeded:
        return _view(
            link, title, LinkStatus.RECONNECT_NEEDED, None, f"{title} needs you to reconnect."
        )
    except oauth.ProviderError as error:
        return _view(link, title, "unavailable", None, f"{error.message} {error.advice}")
    view = _view(link, title, LinkStatus.CONNECTED, profile, None)
    return replace(
        view,
        provider_logout=oauth.end_session_endpoint(provider) is not None,
        features=tuple(provider.features.values()),
    )


def _fetch(provider: oauth.Provider, link: LinkedAccount) -> oauth.Profile:
    return provider_calls.call(
        link, lambda access_token, key: oauth.fetch_profile(provider, access_token, key)
    )


def _view(link, title, status, profile, message) -> LinkedProfile:
    return LinkedProfile(
        provider=link.provider,
        title=title,
        status=status,
        profile=profile,
        scopes=tuple(scopes.granted(link)),
        declined_scopes=tuple(scopes.declined(link)),
        expires_at=link.expires_at,
        refreshed_at=link.refreshed_at,
        message=message,
        refreshable=link.refresh_token_ciphertext is not None,
    )
