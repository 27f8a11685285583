"""Validating a logout token, as OpenID Connect Back-Channel Logout 1.0 §2.6 asks of a relying
party: the provider POSTs it straight to this app when a person's session there ends, and the
app ends the matching sessions here. Nothing but the token's own signature vouches for it, so
every check below is on the token alone.
"""

from __future__ import annotations

import time
from types import MappingProxyType
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from oauth import signals, signed_jwt
from oauth.provider import Provider

#: The `events` member that makes a JWT a logout token (§2.4).
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: How old a logout token may be (its `iat`): it is sent the moment the session ends, so a token
#: minutes old is a stale copy at best. Replays within the window are caught by `jti`.
MAX_AGE_SECONDS = 300


class LogoutTokenRejected(Exception):
    """The logout token was refused; `reason` is a short code for the security log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validate(provider: Provider, logout_token: object) -> dict[str, Any]:
    """The verified claims of a logout token from `provider`, or LogoutTokenRejected."""
    try:
        # §2.4: `typ` logout+jwt when present, so that no other JWT of the provider (an ID
        # token above all) can be replayed here as a logout token.
        token = signed_jwt.verify(provider, logout_token, types=(None, "logout+jwt"))
    except signed_jwt.JwtRejected as error:
        raise LogoutTokenRejected(f"logout_token_{error.reason}") from error
    claims = token.claims
    _check_claims(provider, claims)
    if signals.logout_token_verified.heard():
        signals.logout_token_verified.announce(
            provider=provider,
            header=MappingProxyType(token.header),
            claims=MappingProxyType(claims),
        )
    return claims


def _check_claims(provider: Provider, claims: dict[str, Any]) -> None:
    leeway = signed_jwt.leeway(provider)
    # §2.6 (3): iss, aud, iat and exp as for ID tokens; exp is honoured when present (providers
    # built on the 1.0 drafts leave it out).
    registry = jwt.JWTClaimsRegistry(
        leeway=leeway,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        name = getattr(error, "claim", None) or "claims"
        raise LogoutTokenRejected(f"logout_token_invalid_{name}") from error
    if not signed_jwt.only_for_this_client(provider, claims):
        raise LogoutTokenRejected("logout_token_untrusted_audience")
    issued_at = claims["iat"]
    now = time.time()
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float):
        raise LogoutTokenRejected("logout_token_invalid_iat")
    if issued_at > now + leeway or issued_at < now - MAX_AGE_SECONDS - leeway:
        raise LogoutTokenRejected("logout_token_invalid_iat")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise LogoutTokenRejected("logout_token_invalid_jti")
    # §2.6 (4): the events claim holds the back-channel logout member, a JSON object.
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise LogoutTokenRejected("logout_token_invalid_events")
    # §2.6 (5): sub or sid, at least one, each a non-empty string.
    sub, sid = claims.get("sub"), claims.get("sid")
    if sub is None and sid is None:
        raise LogoutTokenRejected("logout_token_no_sub_or_sid")
    for value in (sub, sid):
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 255):
            raise LogoutTokenRejected("logout_token_invalid_sub_or_sid")
    # §2.6 (6): a nonce is forbidden, so that an ID token can never pass for a logout token.
    if "nonce" in claims:
        raise LogoutTokenRejected("logout_token_nonce_present")
