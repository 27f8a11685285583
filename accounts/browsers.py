"""A short, human description of a browser from its User-Agent header ("Firefox on Linux"), for
the sessions page: enough for a person to tell their phone from their laptop. The header is
whatever the client sends, so it is only ever shown as text, cut short, and never trusted.
"""

from __future__ import annotations

# Checked in order: Chromium-based browsers also say "Chrome" and "Safari", Chrome says "Safari".
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
    ("python-requests/", "Python requests"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
MAX_LENGTH = 100


def describe(user_agent: str | None) -> str:
    """'<browser> on <system>', either part 'Unknown …' when the header does not say."""
    header = (user_agent or "")[:512]
    browser = next((name for token, name in _BROWSERS if token in header), "Unknown browser")
    system = next((name for token, name in _SYSTEMS if token in header), None)
    description = f"{browser} on {system}" if system else browser
    return description[:MAX_LENGTH]
