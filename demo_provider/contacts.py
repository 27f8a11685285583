"""The demo resource server's second API: each demo user's address book, fixed data served by
`GET /api/contacts` to an access token that holds `contacts.read` (see `endpoints.py`).

Fixed rather than stored, so that every workshop machine shows the same answer and a client can
tell at a glance whose contacts came back.
"""

from __future__ import annotations

from typing import NamedTuple


class Contact(NamedTuple):
    """One entry of an address book."""

    name: str
    email: str


# Keyed by username, the one thing about a demo user that is the same on every machine (`sub`
# is random per database). Addresses under example.org, which can never reach anyone.
_ADDRESS_BOOKS: dict[str, tuple[Contact, ...]] = {
    "alice": (
        Contact("White Rabbit", "white.rabbit@example.org"),
        Contact("Cheshire Cat", "cheshire.cat@example.org"),
        Contact("Mad Hatter", "hatter@example.org"),
    ),
    "bob": (
        Contact("Wendy", "wendy@example.org"),
        Contact("Scoop", "scoop@example.org"),
        Contact("Muck", "muck@example.org"),
        Contact("Dizzy", "dizzy@example.org"),
    ),
}


def for_username(username: str) -> list[dict[str, str]]:
    """The address book of this person as the API returns it; empty for anyone without one."""
    return [contact._asdict() for contact in _ADDRESS_BOOKS.get(username, ())]
