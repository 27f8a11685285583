"""The provider's OpenID Connect discovery document (RFC 8414 / OIDC Discovery), built from the
configured issuer so every URL in it matches what clients were told to trust, and from the
switches, so it advertises what is required (PAR, private_key_jwt) as well as what is offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_provider import client_assertions, dpop, grants, scopes, signing
from demo_provider.models import PRIVATE_KEY_JWT

# `none` is for public clients only; a confidential client is refused if it tries it.
CLIENT_AUTH_METHODS = list(grants.CLIENT_AUTH_METHODS)


def openid_configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata for the configured issuer, advertising only what the provider actually enforces:
    `token` and the implicit grant only while the legacy implicit lab is switched on, and only
    private_key_jwt while it is required.
    """
    issuer = config["DEMO_PROVIDER_ISSUER"]
    legacy_implicit = config["DEMO_PROVIDER_LEGACY_IMPLICIT"]
    response_types = ["code", "token"] if legacy_implicit else ["code"]
    grant_types = ["authorization_code", "refresh_token"]
    if legacy_implicit:
        grant_types.append("implicit")
    only_keys = config["DEMO_PROVIDER_REQUIRE_PRIVATE_KEY_JWT"]
    auth_methods = [PRIVATE_KEY_JWT] if only_keys else CLIENT_AUTH_METHODS
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        # RFC 9126: where clients push authorization requests, and whether they must.
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": config["DEMO_PROVIDER_REQUIRE_PAR"],
        # OpenID Connect RP-Initiated Logout 1.0.
        "end_session_endpoint": f"{issuer}/end-session",
        # OpenID Connect Back-Channel Logout 1.0: logout tokens go to each client's registered
        # backchannel_logout_uri, and carry `sid` (which ID tokens carry too).
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        # Not standard metadata: where the demo resource server's APIs live.
        "profile_endpoint": f"{issuer}/api/profile",
        "contacts_endpoint": f"{issuer}/api/contacts",
        "scopes_supported": list(scopes.SUPPORTED),
        "response_types_supported": response_types,
        "response_modes_supported": ["query", "fragment"] if legacy_implicit else ["query"],
        "grant_types_supported": grant_types,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(client_assertions.ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(client_assertions.ALGORITHMS),
        # RFC 9449 section 5.1: the algorithms DPoP proofs may be signed with.
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
        "id_token_signing_alg_values_supported": list(signing.ALGORITHMS),
        "subject_types_supported": ["public"],
        "claims_supported": list(scopes.CLAIMS_SUPPORTED),
        "authorization_response_iss_parameter_supported": True,
        # Request objects (OIDC Core section 6), by value or by URL, are not supported; the
        # request_uri of a pushed request (above) is something else.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }
