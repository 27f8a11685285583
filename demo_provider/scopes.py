"""The scopes this provider understands: what each one means in plain words on the consent
page, which ones a person may leave out or take back, and which claims about the person each one
releases (ID token, userinfo, profile API).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import scope_to_list

if TYPE_CHECKING:
    from demo_provider.models import User

OPENID = "openid"
CONTACTS_READ = "contacts.read"
OFFLINE_ACCESS = "offline_access"
SUPPORTED = (OPENID, "profile", "email", OFFLINE_ACCESS, CONTACTS_READ)

# What the person is agreeing to, said the way they would say it.
DESCRIPTIONS = {
    "openid": "Confirm who you are",
    "profile": "See your name, username and profile",
    "email": "See your e-mail address",
    "offline_access": "Keep access while you are away (refresh tokens)",
    "contacts.read": "See your contacts",
}

CLAIMS_SUPPORTED = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "sid",
    "nonce",
    "at_hash",
    "name",
    "preferred_username",
    "email",
    "email_verified",
)


def describe(scope: str | None) -> list[tuple[str, str]]:
    """List each requested scope with its plain-words description, in request order."""
    return describe_names(scope_to_list(scope) or [])


def describe_names(names: Iterable[str]) -> list[tuple[str, str]]:
    """Each scope name with its plain-words description, in the order given."""
    return [(name, DESCRIPTIONS.get(name, name)) for name in names]


def is_optional(name: str) -> bool:
    """Whether a person may leave this scope out of a grant, or take it back later.

    `openid` is not: it is what makes the request a sign-in (OpenID Connect) rather than a
    permission, so the person answers the request as a whole with Allow or Deny, and takes it
    back by revoking the application.
    """
    return name != OPENID


def user_claims(user: User, scope: str | None) -> dict[str, Any]:
    """Claims about `user` released by `scope`; `sub` always, everything else only if granted."""
    granted = set(scope_to_list(scope) or [])
    claims: dict[str, Any] = {"sub": user.sub}
    if "profile" in granted:
        claims["name"] = user.name
        claims["preferred_username"] = user.username
    if "email" in granted:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims
