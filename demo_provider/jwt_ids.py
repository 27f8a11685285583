"""Accepting each JWT id once. Client assertions (RFC 7523 section 3) and DPoP proofs (RFC 9449
section 11.1) carry a `jti`; a second JWT with the same one is a copy captured on the way and
replayed. Ids are remembered in the database, so the rule holds across processes and restarts,
and only until the JWT they came in would be refused as too old anyway, so the table stays small.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from demo_provider.extensions import db
from demo_provider.models import UsedJwtId, digest, epoch_now

# Longer ids are refused rather than stored: a real jti is a short random string.
MAX_JTI_LENGTH = 256
# Seconds between two purges of expired ids by one process.
PURGE_EVERY = 30.0
_purge_lock = threading.Lock()
_purged_at = float("-inf")


def is_acceptable(jti: object) -> bool:
    """Whether `jti` is a non-empty string of a sensible length."""
    return isinstance(jti, str) and 0 < len(jti) <= MAX_JTI_LENGTH


def first_use(kind: str, audience: str, jti: str, *, keep_until: int) -> bool:
    """Remember `jti` for this kind of JWT and this issuer or target until `keep_until`; True
    only the first time, also when two requests carry it at once (the primary key decides).
    """
    _forget_expired()
    db.session.add(UsedJwtId(key_hash=digest(f"{kind}\n{audience}\n{jti}"), expires_at=keep_until))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def _forget_expired() -> None:
    """Delete the ids whose JWTs have expired, at most every PURGE_EVERY seconds per process: a
    DPoP proof comes with every API call, and a DELETE with each would double the writes. An
    expired id kept a little longer refuses nothing that would not be refused anyway: its JWT is
    too old to be accepted by then."""
    global _purged_at
    now = time.monotonic()
    with _purge_lock:
        if now - _purged_at < PURGE_EVERY:
            return
        _purged_at = now
    db.session.execute(delete(UsedJwtId).where(UsedJwtId.expires_at < epoch_now()))
