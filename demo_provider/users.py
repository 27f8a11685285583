"""The people who can sign in at the demo provider: the seeded demo users, password checks, and
the signed-in resource owner handed to the authorization endpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from demo_provider.extensions import db
from demo_provider.models import User


@dataclass(frozen=True)
class DemoUser:
    """A seeded account with its published password (shown on the login page in development,
    replaced by `DEMO_PROVIDER_USER_PASSWORDS`, required in production).
    """

    username: str
    password: str
    name: str
    email: str
    email_verified: bool
    bio: str
    location: str


DEMO_USERS = (
    DemoUser(
        username="alice",
        password="wonderland",  # noqa: S106 -- published demo credential, development only
        name="Alice Liddell",
        email="alice@example.org",
        email_verified=True,
        bio="Curious about everything, especially rabbit holes.",
        location="Wonderland",
    ),
    DemoUser(
        username="bob",
        password="builder",  # noqa: S106 -- published demo credential, development only
        name="Bob the Builder",
        email="bob@example.org",
        email_verified=False,
        bio="Can we fix it? Yes we can.",
        location="Sunflower Valley",
    ),
)


@dataclass(frozen=True)
class ResourceOwner:
    """The person signed in at the provider, when they proved it (the ID token's auth_time),
    and the id of that sign-in session (the ID token's `sid`).
    """

    user: User
    auth_time: int
    sid: str | None = None


def seed_demo_users(passwords: Mapping[str, str] | None = None) -> None:
    """Create the demo users that do not exist yet; existing ones (and their `sub`) are kept.

    Each demo user's password is the one given for them in `passwords` (the setting
    `DEMO_PROVIDER_USER_PASSWORDS`), or else the published one, and an existing user whose stored
    hash does not match it gets the new hash: the stored password follows the configuration.
    """
    passwords = passwords or {}
    for demo in DEMO_USERS:
        password = passwords.get(demo.username, demo.password)
        user = User.find_by_username(demo.username)
        if user is not None:
            if not _hash_matches(user.password_hash, password):
                user.password_hash = _demo_password_hash(password)
                db.session.commit()
            continue
        db.session.add(
            User(
                username=demo.username,
                password_hash=_demo_password_hash(password),
                name=demo.name,
                email=demo.email,
                email_verified=demo.email_verified,
                bio=demo.bio,
                location=demo.location,
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            # Another process seeded the same user at the same moment; theirs is kept.
            db.session.rollback()


def published_password_users(passwords: Mapping[str, str]) -> tuple[DemoUser, ...]:
    """The demo users still signing in with their published password (none given for them)."""
    return tuple(demo for demo in DEMO_USERS if demo.username not in passwords)


def authenticate(username: str, password: str) -> User | None:
    """The user whose password matches, or None; equally slow whether or not the name exists."""
    user = User.find_by_username(username) if username else None
    if user is None:
        # Hash anyway so response time does not reveal which usernames exist.
        check_password_hash(_decoy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


@functools.cache
def _demo_password_hash(password: str) -> str:
    """The hash of a demo user's password, computed once per process (hashing is slow)."""
    return generate_password_hash(password)


def _hash_matches(stored_hash: str, password: str) -> bool:
    """Whether `stored_hash` is of `password`; the cheap string comparison first, since a hash
    made by this process is reused for the same password.
    """
    return stored_hash == _demo_password_hash(password) or check_password_hash(
        stored_hash, password
    )


@functools.cache
def _decoy_hash() -> str:
    """A throwaway hash compared against when the username is unknown."""
    return generate_password_hash("decoy password that matches nothing")
