"""The token vault: provider tokens encrypted at rest, and `fresh_access_token`, which refreshes a
link's access token before it lapses, one refresh at a time across threads and processes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app, g

import config
import oauth
import providers
from accounts import row_locks, scopes, signals
from extensions import db
from models import LinkedAccount, LinkStatus, utcnow
from oauth import dpop
from ops import security_events

# The refresh leeway never exceeds this share of an access token's lifetime.
MAX_LEEWAY_FRACTION = 0.5
# Longer than any provider issues; what a larger `expires_in` is taken to mean.
MAX_TOKEN_LIFETIME = 10 * 365 * 24 * 3600
# Threads of one process wait on one of these before taking the row lock, so they queue here
# instead of in the database. Striped: a fixed set shared by all links, no unbounded growth.
_THREAD_LOCKS = tuple(threading.Lock() for _ in range(64))
# DPoP keys read back from their ciphertexts, kept per app (least recently used out first).
# Importing an EC key recomputes its public point, and a DPoP-bound link needs its key on every
# API call: read once, a key serves every later view. The ciphertext is the cache key: a new key,
# or the same key encrypted again under a rotated encryption key, is a new ciphertext.
DPOP_KEYS_KEPT = 1024
# Where a request keeps the link rows its refreshes read again (`latest`), by id.
_WRITTEN_LINKS = "accounts_links_written"


class UnreadableCiphertext(Exception):
    """A stored ciphertext does not decrypt with any configured key (tampered or key lost)."""


class LinkRemoved(Exception):
    """The link was unlinked, or its account deleted, while this request was using it."""

    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.provider = provider


class ReconnectNeeded(Exception):
    """The link has no usable grant any more; the user must authorize the app again."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


def init_app(app: Flask) -> None:
    """Build the cipher from TOKEN_ENCRYPTION_KEYS: the first key encrypts, every key decrypts."""
    keys = config.encryption_keys(app.config["TOKEN_ENCRYPTION_KEYS"])
    try:
        app.extensions["token_cipher"] = MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as error:
        raise ValueError(
            "TOKEN_ENCRYPTION_KEYS must be comma-separated Fernet keys (see README)."
        ) from error
    app.extensions["dpop_keys"] = functools.lru_cache(maxsize=DPOP_KEYS_KEPT)(_read_dpop_key)


def cipher() -> MultiFernet:
    """The app's token cipher (all configured keys)."""
    return current_app.extensions["token_cipher"]


def encrypt(value: str | None) -> bytes | None:
    """Ciphertext of a secret value (authenticated: tampering is detected on decrypt)."""
    return None if value is None else cipher().encrypt(value.encode())


def decrypt(ciphertext: bytes | None) -> str | None:
    """The secret value of a ciphertext made by `encrypt`."""
    if ciphertext is None:
        return None
    try:
        return cipher().decrypt(ciphertext).decode()
    except InvalidToken as error:
        raise UnreadableCiphertext("ciphertext does not decrypt") from error


def store(
    link: LinkedAccount,
    token: Mapping[str, Any],
    *,
    requested_scope: str | None = None,
    combined: bool = False,
) -> None:
    """Put a token response into the link, encrypted, keeping what the provider did not resend;
    the scopes are recorded as `scopes.record` says (`requested_scope`: what the authorization
    request asked for, None for a refresh)."""
    now = utcnow()
    link.access_token_ciphertext = encrypt(token["access_token"])
    # RFC 6749 §6: a refresh response may omit the refresh token, meaning the old one stays
    # valid. When one does come back (rotation), the old one must never be sent again.
    if token.get("refresh_token"):
        link.refresh_token_ciphertext = encrypt(token["refresh_token"])
    if token.get("id_token"):
        link.id_token_ciphertext = encrypt(token["id_token"])
    link.access_token_lifetime = _lifetime(token)
    link.expires_at = (
        now + timedelta(seconds=link.access_token_lifetime)
        if link.access_token_lifetime is not None
        else None
    )
    scopes.record(link, token, requested=requested_scope, combined=combined)
    link.status = LinkStatus.CONNECTED


def bind(link: LinkedAccount, dpop_key) -> None:
    """Keep the DPoP key the link's new tokens are bound to (None: bearer tokens, no key)."""
    link.dpop_key_ciphertext = encrypt(dpop.serialize(dpop_key)) if dpop_key is not None else None


def proof_key(link: LinkedAccount):
    """The DPoP key the link's tokens are bound to, None for bearer tokens. ReconnectNeeded when
    no configured encryption key can read it: without it the tokens are useless to anyone."""
    if link.dpop_key_ciphertext is None:
        return None
    try:
        return current_app.extensions["dpop_keys"](bytes(link.dpop_key_ciphertext))
    except (UnreadableCiphertext, ValueError):
        _give_up(link, "dpop_key_unreadable")


def _read_dpop_key(ciphertext: bytes):
    """The key a DPoP key ciphertext holds (cached per app by `init_app`; a failure is not)."""
    return dpop.deserialize(decrypt(ciphertext))


def _lifetime(token: Mapping[str, Any]) -> int | None:
    """The access token's lifetime in seconds (`expires_in`), if the provider gave a usable one."""
    try:
        if token.get("expires_in") is not None:
            # Clamped: an absurd value must not overflow a date or the database column.
            return min(max(0, int(token["expires_in"])), MAX_TOKEN_LIFETIME)
    except (TypeError, ValueError, OverflowError):
        pass
    return None


def discard(link: LinkedAccount) -> None:
    """Drop every token of the link and mark it for reconnection."""
    link.access_token_ciphertext = None
    link.refresh_token_ciphertext = None
    link.id_token_ciphertext = None
    link.dpop_key_ciphertext = None
    link.expires_at = None
    link.status = LinkStatus.RECONNECT_NEEDED


def refresh_leeway(link: LinkedAccount) -> float:
    """Seconds before expiry at which the link's access token is refreshed.

    TOKEN_REFRESH_LEEWAY, but at most a fraction of the token's lifetime: with a 60 s leeway,
    a token issued for 8 s would be "about to expire" from the moment it arrived, and every
    page view would refresh it.
    """
    leeway = float(current_app.config["TOKEN_REFRESH_LEEWAY"])
    if link.access_token_lifetime is not None:
        leeway = min(leeway, link.access_token_lifetime * MAX_LEEWAY_FRACTION)
    return leeway


def expires_soon(link: LinkedAccount, now: datetime | None = None) -> bool:
    """True when the access token lapses within the refresh leeway."""
    if link.expires_at is None:
        return False
    return link.expires_at - timedelta(seconds=refresh_leeway(link)) <= (now or utcnow())


def fresh_access_token(
    link: LinkedAccount, *, force_refresh: bool = False, reason: str | None = None
) -> str:
    """An access token for the link that will not expire within the leeway.

    Refreshes first when needed (or when forced, for `reason`). Raises ReconnectNeeded when the
    grant is gone, LinkRemoved when the link itself went meanwhile, and
    oauth.ProviderUnavailable (stored tokens untouched) when the provider is down.
    """
    if not force_refresh:
        token = _current_access_token(link)
        if token is not None:
            _announce_decision(link, refresh=False, reason=None)
            return token
    _announce_decision(link, refresh=True, reason=reason)
    stale_ciphertext = link.access_token_ciphertext
    with _THREAD_LOCKS[link.id % len(_THREAD_LOCKS)]:
        # Lock the row (SELECT ... FOR UPDATE on PostgreSQL) and read it again: another worker
        # may have refreshed while we waited. Spending a rotating refresh token twice would
        # make the provider treat it as stolen and revoke the whole grant.
        provider_name = link.provider
        link = lock_and_reread(link.id)
        if link is None:
            # An unlink or a deletion won the race: there is nothing left to refresh.
            row_locks.release()
            raise LinkRemoved(provider_name)
        refreshed_meanwhile = link.access_token_ciphertext != stale_ciphertext
        _written(link)  # what this request shows of the link from now on
        if not force_refresh or refreshed_meanwhile:
            try:
                token = _current_access_token(link)
            except ReconnectNeeded:
                db.session.rollback()  # release the row lock now, not at the end of the request
                raise
            if token is not None:
                db.session.commit()
                if refreshed_meanwhile:
                    signals.refreshed_meanwhile.announce(
                        provider=link.provider, user_id=link.user_id
                    )
                return token
        return _refresh_locked(link)


def _announce_decision(link: LinkedAccount, *, refresh: bool, reason: str | None) -> None:
    """Announce whether the stored access token is used as is or refreshed first, and why."""
    if not signals.access_token_checked.heard():
        return  # the profile view's hot path: nothing to compute when nobody listens
    signals.access_token_checked.announce(
        provider=link.provider,
        user_id=link.user_id,
        expires_at=link.expires_at,
        leeway=refresh_leeway(link),
        refresh=refresh,
        reason=reason,
    )


def lock_and_reread(link_id: int) -> LinkedAccount | None:
    """The link row, locked against other refreshes, unlinks and deletions until commit; None
    when it was removed meanwhile."""
    return row_locks.lock(LinkedAccount, link_id)


def _current_access_token(link: LinkedAccount) -> str | None:
    """The stored access token if it is still good for a while, else None."""
    if link.status != LinkStatus.CONNECTED:
        raise ReconnectNeeded(link.provider, "reconnect_needed")
    try:
        token = decrypt(link.access_token_ciphertext)
    except UnreadableCiphertext:
        _give_up(link, "ciphertext_unreadable")
    if token is None:
        _give_up(link, "no_access_token")
    return None if expires_soon(link) else token


def _refresh_locked(link: LinkedAccount) -> str:
    """Refresh while holding the row lock; commit releases it."""
    try:
        refresh_token = decrypt(link.refresh_token_ciphertext)
    except UnreadableCiphertext:
        _give_up(link, "ciphertext_unreadable")
    if not refresh_token:
        _give_up(link, "no_refresh_token")
    provider = providers.get(link.provider)
    if provider is None:
        db.session.rollback()
        raise oauth.ProviderUnavailable(
            "provider_not_configured", f"{link.provider} is not configured on this site."
        )
    key = proof_key(link)
    try:
        token = oauth.refresh(
            provider, refresh_token, {"iss": link.issuer, "sub": link.subject}, dpop_key=key
        )
    except oauth.GrantRevoked as error:
        _give_up(link, error.reason)
    except oauth.ProviderError as error:
        # Transient or not ours to fix: keep every stored token exactly as it was.
        db.session.rollback()
        security_events.emit(
            "refresh",
            outcome="failed",
            reason=error.reason,
            provider=link.provider,
            user_id=link.user_id,
        )
        raise
    store(link, token)
    link.refreshed_at = utcnow()
    db.session.commit()
    security_events.emit("refresh", provider=link.provider, user_id=link.user_id)
    return token["access_token"]


def revoke(link: LinkedAccount) -> None:
    """Ask the provider to revoke the link's grant (best effort), then forget its tokens here.

    The refresh token goes first: revoking it ends the whole grant at most providers (RFC 7009
    §2.1). The local copies are dropped even when the provider cannot be reached.
    """
    provider = providers.get(link.provider)
    for ciphertext, hint in (
        (link.refresh_token_ciphertext, "refresh_token"),
        (link.access_token_ciphertext, "access_token"),
    ):
        try:
            token = decrypt(ciphertext)
        except UnreadableCiphertext:
            continue
        if token and provider is not None:
            revoked = oauth.revoke(provider, token, hint)
            security_events.emit(
                "revoke",
                outcome="ok" if revoked else "failed",
                provider=link.provider,
                user_id=link.user_id,
                token_type=hint,
            )
    discard(link)


def mark_reconnect_needed(link) -> None:
    """Discard the link's tokens and mark it for reconnection, committed. `link` may be the
    signed-in snapshot's (`accounts.signed_in`): the row is then loaded by id to change it."""
    row = link if isinstance(link, LinkedAccount) else db.session.get(LinkedAccount, link.id)
    if row is not None:  # None: unlinked meanwhile, nothing left to mark
        discard(row)
        db.session.commit()


def latest(link):
    """The link as this request last saw it: the row a refresh read again under its lock (and
    changed, or found changed by another worker), else `link` as the page read it."""
    return g.get(_WRITTEN_LINKS, {}).get(link.id, link)


def _written(row: LinkedAccount) -> None:
    # Kept for the rest of the request: the page read the link before the refresh, and shows
    # what the refresh wrote (the session's identity map holds rows only weakly).
    g.setdefault(_WRITTEN_LINKS, {})[row.id] = row


def _give_up(link: LinkedAccount, reason: str) -> NoReturn:
    """Mark the link for reconnection and raise ReconnectNeeded."""
    mark_reconnect_needed(link)
    security_events.emit(
        "reconnect_needed",
        outcome="failed",
        reason=reason,
        provider=link.provider,
        user_id=link.user_id,
    )
    raise ReconnectNeeded(link.provider, reason)
