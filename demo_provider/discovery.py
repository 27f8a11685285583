"""The provider's OpenID Connect discovery document (RFC 8414 / OIDC Discovery), built from the
configured issuer so every URL in it matches what clients were told to trust.
"""

from __future__ import annotations

from typing import Any

from demo_provider import grants, scopes, signing

# `none` is for public clients only; a confidential client is refused if it tries it.
CLIENT_AUTH_METHODS = list(grants.CLIENT_AUTH_METHODS)


def openid_configuration(issuer: str, *, legacy_implicit: bool = False) -> dict[str, Any]:
    """Metadata for `issuer`, advertising only what the provider actually enforces: `token`
    and the implicit grant only while the legacy implicit lab is switched on.
    """
    response_types = ["code", "token"] if legacy_implicit else ["code"]
    grant_types = ["authorization_code", "refresh_token"]
    if legacy_implicit:
        grant_types.append("implicit")
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        # OpenID Connect RP-Initiated Logout 1.0.
        "end_session_endpoint": f"{issuer}/end-session",
        # OpenID Connect Back-Channel Logout 1.0: logout tokens go to each client's registered
        # backchannel_logout_uri, and carry `sid` (which ID tokens carry too).
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        # Not standard metadata: where the demo resource server's API lives.
        "profile_endpoint": f"{issuer}/api/profile",
        "scopes_supported": list(scopes.SUPPORTED),
        "response_types_supported": response_types,
        "response_modes_supported": ["query", "fragment"] if legacy_implicit else ["query"],
        "grant_types_supported": grant_types,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "id_token_signing_alg_values_supported": list(signing.ALGORITHMS),
        "subject_types_supported": ["public"],
        "claims_supported": list(scopes.CLAIMS_SUPPORTED),
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
