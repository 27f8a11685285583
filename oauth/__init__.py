"""The OAuth 2.0 / OpenID Connect client engine, provider-agnostic: pooled HTTP, discovery and
keys, the authorization request, the token endpoint, ID tokens, userinfo and the provider's API,
RP-initiated logout and back-channel logout tokens, typed errors, and the signals it sends about
what happened (`oauth.signals`).

Callers import this package and use its functions (`oauth.fetch_profile(...)`), so the call site
shows the layer and a test can patch one place.
"""

from oauth.api import fetch_profile, fetch_resource, refresh, revoke
from oauth.checks import check
from oauth.errors import (
    AccessTokenRejected,
    GrantRevoked,
    InsufficientScope,
    ProviderError,
    ProviderMisconfigured,
    ProviderUnavailable,
    SignInCancelled,
    SignInRejected,
    StepUpRequired,
)
from oauth.logout import backchannel_logout_supported, end_session_endpoint, end_session_url
from oauth.logout_token import LogoutTokenRejected
from oauth.logout_token import validate as validate_logout_token
from oauth.metadata import cached_metadata
from oauth.provider import Feature, Profile, Provider
from oauth.signed_jwt import leeway as jwt_leeway
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
    "Feature",
    "GrantRevoked",
    "Identity",
    "InsufficientScope",
    "LogoutTokenRejected",
    "Profile",
    "Provider",
    "ProviderError",
    "ProviderMisconfigured",
    "ProviderUnavailable",
    "SignInCancelled",
    "SignInRejected",
    "SignInResult",
    "StepUpRequired",
    "authorization_request",
    "backchannel_logout_supported",
    "cached_metadata",
    "check",
    "end_session_endpoint",
    "end_session_url",
    "fetch_profile",
    "fetch_resource",
    "finish",
    "jwt_leeway",
    "redirect_uri",
    "refresh",
    "revoke",
    "validate_logout_token",
]
