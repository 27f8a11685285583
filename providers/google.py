"""Google: OpenID Connect at https://accounts.google.com. `access_type=offline` asks for a refresh
token and `prompt=consent` makes Google send one again when someone signs in a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauth.provider import Provider
from providers import oidc, settings

NAME = "google"
TITLE = "Google"
ISSUER = "https://accounts.google.com"
SCOPE = "openid profile email"
# Google's token responses name `profile` and `email` by their URLs.
SCOPE_ALIASES = {
    "https://www.googleapis.com/auth/userinfo.profile": "profile",
    "https://www.googleapis.com/auth/userinfo.email": "email",
}


def from_config(config: Mapping[str, Any]) -> list[Provider]:
    """Google, when GOOGLE_CLIENT_ID is set."""
    return settings.built_in(
        config,
        NAME,
        title=TITLE,
        scope=SCOPE,
        issuer=ISSUER,
        map_profile=oidc.map_profile,
        extra_authorize_params={"access_type": "offline", "prompt": "consent"},
        # Granular consent: the person may untick any scope but sign-in, and Google's token
        # response names what was granted. Asking for more later covers the old scopes too.
        include_granted_scopes=True,
        scope_aliases=SCOPE_ALIASES,
    )
