"""Counting failed attempts in a sliding window: wrong passwords at sign-in, so that guessing is
cut off after a few tries, and wrong client secrets at the token and revocation endpoints, so that
a caller that keeps failing is told to back off.

Kept in memory, per process: enough for a demo running as one process on a laptop. Behind several
gunicorn workers each worker counts on its own (so the real limit is the limit times the number
of workers), and a restart forgets everything; a shared store such as Redis would fix both.
Addresses are `request.remote_addr`: behind a reverse proxy that the app does not trust with
X-Forwarded-For (ProxyFix), every request shares the proxy's address and so one count.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Hashable


def now() -> float:
    """Seconds on a clock that never goes backwards (a module function, so tests can move it)."""
    return time.monotonic()


class FailureLimiter:
    """Remembers recent failures per key and says when a key has had too many.

    Memory is bounded twice: each key keeps at most `limit` timestamps, and at most `max_keys`
    keys are tracked, the least recently failed ones being forgotten first. An attacker who
    cycles through more keys than that only loses the per-key limit, which is why sign-in also
    counts per client address.
    """

    def __init__(self, limit: int, window: float, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()
        # The dev server and gunicorn's threaded workers serve requests concurrently.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys have failures remembered."""
        return len(self._failures)

    def retry_after(self, key: Hashable) -> int:
        """Seconds until `key` may try again: 0 while it is under the limit."""
        with self._lock:
            failures = self._recent(key, now())
            if failures is None or len(failures) < self.limit:
                return 0
            # The oldest failure in the window leaves it first, freeing one attempt.
            return max(1, math.ceil(failures[0] + self.window - now()))

    def record_failure(self, key: Hashable) -> None:
        """Count one failure for `key`."""
        moment = now()
        with self._lock:
            failures = self._recent(key, moment)
            if failures is None:
                failures = self._failures[key] = deque(maxlen=self.limit)
            failures.append(moment)
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def reset(self, key: Hashable) -> None:
        """Forget the failures of `key` (after it succeeded)."""
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Hashable, moment: float) -> deque[float] | None:
        """The failures of `key` still inside the window, dropping older ones (lock held)."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= moment - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures


def describe_wait(seconds: int) -> str:
    """A wait in whole minutes, rounded up, as a person would say it ("1 minute", "5 minutes")."""
    count = max(1, math.ceil(seconds / 60))
    return "1 minute" if count == 1 else f"{count} minutes"


class SignInThrottle:
    """Failed password checks, counted per username (guessing one person's password) and per
    client address (one address trying a common password against many usernames).

    Counting per username lets anyone hold a person's sign-in up for a few minutes by failing on
    purpose; for a demo that trade is right, and the wait is short.
    """

    PER_USERNAME = 5
    PER_ADDRESS = 20
    WINDOW = 5 * 60
    # Longer than any username the provider stores, so distinct real names never share a key.
    _USERNAME_KEY_LENGTH = 128

    def __init__(self) -> None:
        self.by_username = FailureLimiter(self.PER_USERNAME, self.WINDOW)
        self.by_address = FailureLimiter(self.PER_ADDRESS, self.WINDOW)

    def retry_after(self, username: str, address: str | None) -> int:
        """Seconds to wait before the password may be checked again; 0 means go ahead."""
        return max(
            self.by_username.retry_after(self._username_key(username)),
            self.by_address.retry_after(address),
        )

    def failed(self, username: str, address: str | None) -> None:
        """Count a wrong username or password."""
        self.by_username.record_failure(self._username_key(username))
        self.by_address.record_failure(address)

    def succeeded(self, username: str) -> None:
        """The person got in: their earlier typos no longer count (the address's still do)."""
        self.by_username.reset(self._username_key(username))

    def _username_key(self, username: str) -> str:
        """The key a username is counted under, of bounded size."""
        return username[: self._USERNAME_KEY_LENGTH]


class ClientAuthenticationThrottle(FailureLimiter):
    """Failed client authentications at the token and revocation endpoints, per claimed client_id
    and client address. Client secrets are long random strings, so this is not what keeps them
    from being guessed; it tells a misconfigured or hostile caller that keeps failing to back off.
    It is consulted only after the credentials turned out wrong (see
    `server.ProviderAuthorizationServer.authenticate_client`): a client presenting its correct
    secret is never refused, even from the address (a shared proxy) a guesser is failing from.
    """

    LIMIT = 10
    WINDOW = 5 * 60

    def __init__(self) -> None:
        super().__init__(self.LIMIT, self.WINDOW)
