"""GitHub: plain OAuth 2.0 (no ID token). Who signed in comes from `GET /user`; the e-mail address
is the verified primary one from `GET /user/emails`. GitHub-App user tokens that expire come with
a refresh token and are refreshed like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauth import api
from oauth.errors import SignInRejected
from oauth.provider import Profile, Provider
from providers import settings

NAME = "github"
TITLE = "GitHub"
SCOPE = "read:user user:email"
AUTHORIZATION_ENDPOINT = "https://github.com/login/oauth/authorize"
TOKEN_ENDPOINT = "https://github.com/login/oauth/access_token"  # noqa: S105 (a URL)
USER_URL = "https://api.github.com/user"
EMAILS_URL = "https://api.github.com/user/emails"


def map_profile(user: Mapping[str, Any]) -> Profile:
    """Map a `GET /user` payload to the common profile shape."""
    labels = (
        ("company", "Company"),
        ("location", "Location"),
        ("public_repos", "Public repositories"),
        ("followers", "Followers"),
        ("html_url", "Profile"),
    )
    return Profile(
        display_name=str(user.get("name") or user.get("login") or "GitHub user"),
        username=user.get("login"),
        email=user.get("email"),
        details=tuple(
            (label, str(user[key])) for key, label in labels if user.get(key) not in (None, "")
        ),
    )


def verified_primary_email(emails: Any) -> str | None:
    """The primary address from a `GET /user/emails` payload, if GitHub has verified it."""
    if not isinstance(emails, list):
        return None
    for entry in emails:
        if isinstance(entry, Mapping) and entry.get("primary") and entry.get("verified"):
            return entry.get("email")
    return None


def fetch_identity(provider: Provider, access_token: str) -> tuple[str, Profile]:
    """The GitHub account the token belongs to: its numeric id (logins can be renamed and then
    reused by someone else, ids never are) and its profile with a verified e-mail address."""
    user = api.get_json(provider, USER_URL, access_token)
    if not isinstance(user, Mapping) or not isinstance(user.get("id"), int):
        raise SignInRejected("github_user_malformed", "GitHub did not say who signed in.")
    email = verified_primary_email(api.get_json(provider, EMAILS_URL, access_token))
    profile = map_profile(user)
    return str(user["id"]), Profile(profile.display_name, profile.username, email, profile.details)


def from_config(config: Mapping[str, Any]) -> list[Provider]:
    """GitHub, when GITHUB_CLIENT_ID is set."""
    return settings.built_in(
        config,
        NAME,
        title=TITLE,
        scope=SCOPE,
        endpoints={
            "authorization_endpoint": AUTHORIZATION_ENDPOINT,
            "token_endpoint": TOKEN_ENDPOINT,
        },
        profile_endpoint=USER_URL,
        map_profile=map_profile,
        fetch_identity=fetch_identity,
        # GitHub answers `"scope": "read:user,user:email"`.
        granted_scope_separator=",",
    )
