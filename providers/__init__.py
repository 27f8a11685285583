"""The providers layer: which providers are configured, and every conversation with them.

Callers import this package and use its functions (`providers.fetch_profile(...)`), so the call
site shows the layer and a test can patch one place.
"""

from providers.api import fetch_profile, refresh, revoke
from providers.errors import (
    AccessTokenRejected,
    GrantRevoked,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    SignInCancelled,
    SignInRejected,
)
from providers.logout import end_session_endpoint, end_session_url
from providers.metadata import cached_metadata, check
from providers.registry import Profile, Provider, build, enabled, get
from providers.signin import (
    AuthorizationRequest,
    Identity,
    SignInResult,
    authorization_request,
    finish,
    redirect_uri,
)

__all__ = [
    "AccessTokenRejected",
    "AuthorizationRequest",
    "GrantRevoked",
    "Identity",
    "Profile",
    "Provider",
    "ProviderError",
    "ProviderMisconfigured",
    "ProviderUnavailable",
    "SignInCancelled",
    "SignInRejected",
    "SignInResult",
    "authorization_request",
    "build",
    "cached_metadata",
    "check",
    "enabled",
    "end_session_endpoint",
    "end_session_url",
    "fetch_profile",
    "finish",
    "get",
    "redirect_uri",
    "refresh",
    "revoke",
]
