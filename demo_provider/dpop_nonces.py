"""DPoP nonces (RFC 9449 sections 8 and 9): when the provider demands them, every DPoP proof must
carry a nonce it handed out recently, in a `DPoP-Nonce` header. A proof then cannot have been
made in advance, which the proof's own `iat` (set by the client) cannot show: a proof created by
malware ahead of time, for later use, carries a nonce that has gone stale by then.

The nonces need no storage: each is an HMAC, under the app's secret key, of a time window
number, so every process of the provider agrees on them. A new one starts every ROTATION
seconds; the current and the previous one are accepted, so a nonce handed out just before a
rotation still works for the request it was fetched for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app

from demo_provider.models import epoch_now

ROTATION = 300
HEADER = "DPoP-Nonce"


def required() -> bool:
    """Whether this provider demands nonces in DPoP proofs (DEMO_PROVIDER_REQUIRE_DPOP_NONCE)."""
    return current_app.config["DEMO_PROVIDER_REQUIRE_DPOP_NONCE"]


def current() -> str:
    """The nonce to hand out now."""
    return _nonce(epoch_now() // ROTATION)


def is_fresh(nonce: object) -> bool:
    """Whether `nonce` is the current or the previous nonce."""
    if not isinstance(nonce, str):
        return False
    window = epoch_now() // ROTATION
    return any(hmac.compare_digest(nonce, _nonce(number)) for number in (window, window - 1))


def _nonce(window: int) -> str:
    """The nonce of one time window: unguessable without the secret key, and never reused."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"dpop-nonce\n{current_app.config['DEMO_PROVIDER_ISSUER']}\n{window}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode("ascii")
