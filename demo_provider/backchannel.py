"""OpenID Connect Back-Channel Logout 1.0, the provider's side: when a person's session here ends
(they sign out, a client asks for RP-initiated logout, they revoke an application), each client
that took part gets a signed logout token POSTed to its `backchannel_logout_uri`, server to
server, so it can end its own sessions for that person even though no browser visits it.

A logout token (section 2.4) is a JWT signed like an ID token, and each claim is there for the
client's checks: `iss` and `aud` say which provider minted it for which client (a token for
another client must not work here); `iat`, `exp` and a random `jti` keep it short-lived and let
the client refuse a replay; `sub` and/or `sid` say whose session ends (`sid` the one session,
`sub` alone every session of that person); `events` marks it as a logout token; and it never
has a `nonce`, nor the header `typ` of an ID token (`logout+jwt` instead), so neither kind of
token can be passed off as the other.

Deliveries run on background threads with short timeouts: a client that is down, slow or
refusing never holds up or fails the person's sign-out, and is only logged (never the token).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app
from joserfc import jwt
from joserfc.jwk import RSAKey

from demo_provider import sessions, signing
from demo_provider.extensions import db
from demo_provider.models import Client, User

EVENT = "http://schemas.openid.net/event/backchannel-logout"
# The JWT `typ` for logout tokens (section 2.4, RFC 8725 section 3.11): explicit typing.
JWT_TYPE = "logout+jwt"
# Two minutes: it is sent at once, so it only has to outlive the delivery and clock skew.
LIFETIME = 120
# Seconds. A client that cannot answer this fast is logged, not waited for.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
EXTENSION_KEY = "demo_provider.backchannel"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One logout token on its way to one client."""

    client_id: str
    uri: str
    # Left out of the repr, so that no log line or traceback that prints a delivery shows it.
    logout_token: str = field(repr=False)


def logout_token_claims(
    *, issuer: str, client_id: str, sub: str, sid: str | None = None, now: int | None = None
) -> dict[str, Any]:
    """The claims of a logout token for one client (section 2.4); with `sid` for one session,
    without it for every session of `sub`.
    """
    issued_at = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": issued_at,
        "exp": issued_at + LIFETIME,
        # Unique per token, so the client can remember the ones it has seen and refuse replays.
        "jti": secrets.token_urlsafe(16),
        # The same `sub` as in this client's ID tokens (subjects here are public, not pairwise).
        "sub": sub,
        "events": {EVENT: {}},
    }
    if sid is not None:
        claims["sid"] = sid
    return claims


def encode_logout_token(claims: dict[str, Any], key: RSAKey) -> str:
    """Sign `claims` with the ID token key and algorithm, naming the key and the token type."""
    header = {"alg": signing.ALGORITHM, "kid": key.kid, "typ": JWT_TYPE}
    return jwt.encode(header, claims, key, algorithms=signing.ALGORITHMS)


def post(delivery: Delivery) -> str:
    """POST the logout token as a form (section 2.5) and return what happened ("HTTP 200", or
    the error's class name); never raises for a client's failure, which is only logged.
    """
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(delivery.uri))
    try:
        # No redirects: a 3xx must not carry the token to an address nobody registered.
        response = requests.post(
            delivery.uri,
            data={"logout_token": delivery.logout_token},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as error:
        outcome = type(error).__name__
        logger.warning(
            "Back-channel logout to %s at %s failed: %s", delivery.client_id, origin, outcome
        )
        return outcome
    # The body is not needed (section 2.8 defines only the status), so it is never read.
    response.close()
    outcome = f"HTTP {response.status_code}"
    log = logger.info if response.ok else logger.warning
    log("Back-channel logout to %s at %s: %s", delivery.client_id, origin, outcome)
    return outcome


class Sender:
    """Posts logout tokens from background threads and keeps their futures, so that tests (and
    nothing else) can wait for every delivery to finish with `flush()`.
    """

    def __init__(self) -> None:
        self._pending: set[Future[str]] = set()
        self._lock = threading.Lock()

    def send(self, deliveries: Iterable[Delivery]) -> list[Future[str]]:
        """Start one delivery per client and return at once with their futures."""
        futures = []
        for delivery in deliveries:
            future: Future[str] = Future()
            with self._lock:
                self._pending.add(future)
            future.add_done_callback(self._forget)
            # Daemon threads: a client that hangs must not hold up the provider's shutdown
            # either, and the timeouts end each delivery within seconds anyway.
            threading.Thread(
                target=self._deliver,
                args=(delivery, future),
                name=f"backchannel-logout-{delivery.client_id}",
                daemon=True,
            ).start()
            futures.append(future)
        return futures

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every delivery started so far has finished; TimeoutError if one has not."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} back-channel logout deliveries still running")

    def _deliver(self, delivery: Delivery, future: Future[str]) -> None:
        """Run one delivery on this thread, its outcome into `future`."""
        future.set_running_or_notify_cancel()
        try:
            future.set_result(post(delivery))
        except Exception as error:
            logger.exception("Back-channel logout to %s failed unexpectedly", delivery.client_id)
            future.set_exception(error)

    def _forget(self, future: Future[str]) -> None:
        """Drop a finished delivery."""
        with self._lock:
            self._pending.discard(future)


def init_app(app: Flask) -> None:
    """Give `app` its sender (no thread starts until something is sent)."""
    app.extensions[EXTENSION_KEY] = Sender()


def sender(app: Flask | None = None) -> Sender:
    """The sender of `app`, or of the provider app handling this request."""
    return (app or current_app).extensions[EXTENSION_KEY]


def session_ended(sid: str | None) -> list[Future[str]]:
    """Tell every client that received an ID token in session `sid` that it has ended, the one
    that asked for the logout included; call after the session itself is gone.
    """
    if sid is None:
        return []
    return _send((participant.client_id, participant.sub, sid) for participant in sessions.end(sid))


def grants_revoked(user: User, client_id: str) -> list[Future[str]]:
    """Tell a client that the person took back everything they allowed it. One token with `sub`
    and no `sid`: every session of this person at the client ends, whichever provider session
    it started in.
    """
    sessions.leave(user.id, client_id)
    return _send([(client_id, user.sub, None)])


def _send(recipients: Iterable[tuple[str, str, str | None]]) -> list[Future[str]]:
    """Sign a logout token for each (client_id, sub, sid) whose client registered a
    back-channel logout URI, and start delivering them.
    """
    issuer = current_app.config["DEMO_PROVIDER_ISSUER"]
    key = signing.current_key()
    deliveries = []
    for client_id, sub, sid in recipients:
        client = db.session.get(Client, client_id)
        uri = client.backchannel_logout_uri if client is not None else None
        if uri is None:
            continue
        claims = logout_token_claims(issuer=issuer, client_id=client_id, sub=sub, sid=sid)
        deliveries.append(Delivery(client_id, uri, encode_logout_token(claims, key)))
    return sender().send(deliveries)
