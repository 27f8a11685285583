"""GitLab: OpenID Connect at https://gitlab.com, or a self-managed instance via GITLAB_ISSUER.
GitLab rotates refresh tokens on every refresh; the token vault keeps the newest one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauth.provider import Profile, Provider
from providers import oidc, settings

NAME = "gitlab"
TITLE = "GitLab"
ISSUER = "https://gitlab.com"
SCOPE = "openid profile email"


def map_profile(claims: Mapping[str, Any]) -> Profile:
    """Map GitLab's userinfo claims (standard ones plus `groups`) to the common profile shape."""
    profile = oidc.map_profile(claims)
    groups = claims.get("groups")
    if isinstance(groups, list) and groups:
        details = (*profile.details, ("Groups", ", ".join(str(group) for group in groups)))
        return Profile(profile.display_name, profile.username, profile.email, details)
    return profile


def from_config(config: Mapping[str, Any]) -> list[Provider]:
    """GitLab, when GITLAB_CLIENT_ID is set."""
    return settings.built_in(
        config,
        NAME,
        title=TITLE,
        scope=SCOPE,
        issuer=settings.optional(config, NAME, "ISSUER", ISSUER),
        map_profile=map_profile,
    )
