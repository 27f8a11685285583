"""`private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): instead of
a shared secret, the client signs a short-lived JWT with its own private key, and the provider
checks it with the public key the client published. Nothing reusable crosses the wire.
"""

from __future__ import annotations

import secrets
import time

from joserfc import jwt

from oauth import client_keys

#: The `client_assertion_type` sent with the assertion (RFC 7523 §2.2).
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: An assertion is made for one request and sent at once; a long-lived one is a replayable
#: credential should it leak, so the lifetime is capped.
MAX_LIFETIME = 300


def client_assertion(
    key: client_keys.PrivateKey,
    *,
    client_id: str,
    audience: str,
    lifetime: int = 60,
    now: int | None = None,
) -> str:
    """The signed JWT for `client_assertion`.

    `audience` is the provider's issuer identifier: FAPI 2.0 requires it (and not the token
    endpoint URL), so that an assertion made for one provider is refused by every other one.
    """
    return sign(
        key, assertion_claims(client_id=client_id, audience=audience, lifetime=lifetime, now=now)
    )


def assertion_claims(
    *, client_id: str, audience: str, lifetime: int = 60, now: int | None = None
) -> dict[str, object]:
    """The claims of a client assertion (see `client_assertion`), before it is signed."""
    if not client_id or not isinstance(client_id, str):
        raise ValueError("client_id must be a non-empty string")
    if not audience or not isinstance(audience, str):
        raise ValueError("audience must be the provider's issuer identifier")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int):
        raise ValueError("lifetime must be a number of seconds")
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError(f"lifetime must be between 1 and {MAX_LIFETIME} seconds")
    issued_at = int(time.time()) if now is None else now
    return {
        # The client speaks for itself: issuer and subject are both its client id (RFC 7523 §3).
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        # Unique per assertion: the provider may remember it to refuse a replay (§3, item 7).
        "jti": secrets.token_urlsafe(24),
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }


def sign(key: client_keys.PrivateKey, claims: dict[str, object]) -> str:
    """The assertion: `claims` signed with the client's key, its `kid` in the header."""
    if not key.is_private:
        raise ValueError("a client assertion is signed with the private key")
    alg = client_keys.algorithm(key)
    header = {"alg": alg, "typ": "JWT"}
    if key.kid:
        # The provider picks the verification key from the client's JWKS by kid.
        header["kid"] = key.kid
    return jwt.encode(header, claims, key, algorithms=[alg])
