"""Where to send the browser after sign-in: only ever a path on this site.

`next` comes from the query string, so an attacker can choose it; an unchecked value turns the
sign-in page into an open redirect to a look-alike site. The demo provider checks its own `next`
with this function too.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048


def safe_next_url(value: object, max_length: int = MAX_LENGTH) -> str | None:
    """`value` if it is a same-site relative path, else None."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        return None
    for candidate in (value, unquote(value)):
        # Exactly one leading slash: `//host` and `/\host` are read by browsers as another host.
        if not candidate.startswith("/") or candidate.startswith("//"):
            return None
        if "\\" in candidate or any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
            return None
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return None
    return value
