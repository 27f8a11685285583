"""Any OpenID Connect issuer, switched on by configuration alone: `OIDC_PROVIDERS=name1,name2`
and, for each name, `<NAME>_ISSUER`, `<NAME>_CLIENT_ID`, `<NAME>_CLIENT_SECRET`, optional
`<NAME>_SCOPE` and `<NAME>_TITLE`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from config import ConfigurationError, provider_names
from oauth.provider import Profile, Provider
from providers import settings

DEFAULT_SCOPE = "openid profile email"
# A name is a slug used in URLs, configuration prefixes and the database alike.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED_NAMES = frozenset({"demo", "github", "google", "gitlab"})


def map_profile(claims: Mapping[str, Any]) -> Profile:
    """Map standard OpenID Connect userinfo claims to the common profile shape."""
    username = claims.get("preferred_username") or claims.get("nickname")
    details = tuple(
        (label, str(claims[key]))
        for key, label in (("locale", "Locale"), ("zoneinfo", "Time zone"))
        if claims.get(key)
    )
    return Profile(
        display_name=str(claims.get("name") or username or claims.get("email") or claims["sub"]),
        username=username,
        email=claims.get("email"),
        details=details,
    )


def from_config(config: Mapping[str, Any]) -> list[Provider]:
    """One provider per name listed in `OIDC_PROVIDERS`."""
    found = []
    for name in provider_names(config.get("OIDC_PROVIDERS", "")):
        if not NAME_PATTERN.fullmatch(name) or name in RESERVED_NAMES:
            raise ConfigurationError(
                f"OIDC_PROVIDERS: {name!r} must be a lowercase slug (a-z, 0-9, _) "
                "and not the name of a built-in provider."
            )
        prefix = name.upper()
        options = settings.security(config, name)
        # With private_key_jwt the client proves itself with its own key: no secret is needed.
        needed = ("ISSUER", "CLIENT_ID") + (
            () if options["client_auth"] == "private_key_jwt" else ("CLIENT_SECRET",)
        )
        missing = [f"{prefix}_{key}" for key in needed if not config.get(f"{prefix}_{key}")]
        if missing:
            raise ConfigurationError(f"OIDC provider {name!r} needs {', '.join(missing)}.")
        found.append(
            Provider(
                name=name,
                title=config.get(f"{prefix}_TITLE") or name.capitalize(),
                client_id=config[f"{prefix}_CLIENT_ID"],
                client_secret=settings.kept_secret(config, name, options),
                scope=config.get(f"{prefix}_SCOPE") or DEFAULT_SCOPE,
                **options,
                # Kept exactly as configured: the discovery document's issuer must equal it.
                issuer=config[f"{prefix}_ISSUER"],
                map_profile=map_profile,
            )
        )
    return found
