"""The embedded demo provider, seen from the client: an ordinary OpenID Connect issuer that
happens to be served by `demo_provider/`. The client reaches it over HTTP only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauth.provider import Feature, Profile, Provider
from providers import settings

NAME = "demo"
TITLE = "Demo Provider"
# offline_access asks for a refresh token, so the profile page keeps working after the short
# access-token lifetime without sending the person back through the provider.
SCOPE = "openid profile email offline_access"
# Not asked for at sign-in: the contacts page asks for it when it is first opened.
CONTACTS = Feature(
    name="contacts",
    title="Your contacts",
    scope="contacts.read",
    reason="To list the people in your Demo Provider address book on this page. This site only "
    "reads them, and does not keep them.",
    endpoint="contacts_endpoint",
)


def map_profile(payload: Mapping[str, Any]) -> Profile:
    """Map the demo provider's `/api/profile` payload to the common profile shape."""
    labels = (
        ("bio", "Bio"),
        ("location", "Location"),
        ("member_since", "Member since"),
        ("fetched_at", "Fetched from the provider at"),
    )
    return Profile(
        display_name=str(payload.get("name") or payload.get("username") or "Demo user"),
        username=payload.get("username"),
        email=payload.get("email"),
        details=tuple((label, str(payload[key])) for key, label in labels if payload.get(key)),
    )


def from_config(config: Mapping[str, Any]) -> list[Provider]:
    """The demo provider, when it is enabled."""
    if not config.get("DEMO_PROVIDER_ENABLED"):
        return []
    options = settings.security(config, NAME)
    return [
        Provider(
            name=NAME,
            title=config.get("DEMO_TITLE") or TITLE,
            client_id=config["DEMO_CLIENT_ID"],
            client_secret=settings.kept_secret(config, NAME, options),
            scope=config.get("DEMO_SCOPE") or SCOPE,
            **options,
            issuer=config["DEMO_ISSUER"].rstrip("/"),
            profile_endpoint="profile_endpoint",
            map_profile=map_profile,
            # Like Google, it takes include_granted_scopes and then covers old and new scopes.
            include_granted_scopes=True,
            features={CONTACTS.name: CONTACTS},
        )
    ]
