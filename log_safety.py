"""Logging that cannot leak a secret or be forged: every log record, from this app or any library
(Authlib, urllib3, Werkzeug) at any level, has secret values masked and line breaks escaped before
a handler sees it.
"""

from __future__ import annotations

import logging
import re

# Names whose values are secrets wherever they appear: query strings, form bodies, dict reprs,
# JSON. Werkzeug logs request lines with the callback's code and state; Authlib logs issued
# token dicts at DEBUG.
_SECRET_NAMES = "|".join(
    [
        *("code", "state", "nonce", "session_state", "code_verifier", "client_secret"),
        *("access_token", "refresh_token", "id_token", "id_token_hint", "password", "token"),
    ]
)
_PATTERNS = (
    # ?code=...&state=...  (and form bodies)
    re.compile(rf"(?i)((?:^|[?&\s])(?:{_SECRET_NAMES})=)[^&\s\"']*"),
    # the same inside an encoded URL: %26code%3D...
    re.compile(rf"(?i)((?:%3F|%26)(?:{_SECRET_NAMES})%3D)(?:(?!%26)[^&\s\"'])*"),
    # 'access_token': '...'  or  "access_token": "..."
    re.compile(rf"(?i)(['\"](?:{_SECRET_NAMES})['\"]\s*:\s*['\"])[^'\"]*"),
    # Authorization: Bearer ... / Basic ...
    re.compile(r"(?i)(\b(?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/=%]+"),
    # Any compact JWT (an ID token, a signed access token) wherever it shows up.
    re.compile(r"()\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
)


def redact(text: str) -> str:
    """The text with secret values masked and line breaks escaped."""
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    # A value with a line break in it (a provider's error text, a crafted URL) must not be able
    # to start what looks like a new log line.
    return text.replace("\r", "\\r").replace("\n", "\\n")


_installed = False


def install() -> None:
    """Make every log record in this process pass through `redact` (once per process)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def safe_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a library's bad format string: keep what we have
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return record

    logging.setLogRecordFactory(safe_record)
    _installed = True
