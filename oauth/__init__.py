"""The OAuth 2.0 / OpenID Connect client engine, provider-agnostic: pooled HTTP, discovery and
keys, the authorization request, the token endpoint, ID tokens, userinfo and the provider's API,
RP-initiated logout and back-channel logout tokens, typed errors, and the signals it sends about
what happened (`oauth.signals`).

Callers import this package and use its functions (`oauth.fetch_profile(...)`), so the call site
shows the layer and a test can patch one place.
"""

from oauth.api import fetch_profile, refresh, revoke
from oauth.checks import check
from oauth.errors import (
    AccessTokenRejected,
    GrantRevoked,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    SignInCancelled,
    SignInRejected,
)
from oauth.logout import backchannel_logout_supported, end_session_endpoint, end_session_url
from oauth.logout_token import LogoutTokenRejected
from oauth.logout_token import validate as validate_logout_token
from oauth.metadata import cached_metadata
from oauth.provider import Profile, Provider
from oauth.signin import (
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
    "LogoutTokenRejected",
    "Profile",
    "Provider",
    "ProviderError",
    "ProviderMisconfigured",
    "ProviderUnavailable",
    "SignInCancelled",
    "SignInRejected",
    "SignInResult",
    "authorization_request",
    "backchannel_logout_supported",
    "cached_metadata",
    "check",
    "end_session_endpoint",
    "end_session_url",
    "fetch_profile",
    "finish",
    "redirect_uri",
    "refresh",
    "revoke",
    "validate_logout_token",
]
