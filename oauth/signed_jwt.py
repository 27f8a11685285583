"""Reading a JWT that a provider signed (an ID token, a logout token): its header checked before
anything else, its signature verified with the provider's published keys and pinned algorithms
only, the JWKS fetched again once when an unknown `kid` suggests the provider rotated its key.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.util import urlsafe_b64decode

from oauth import metadata
from oauth.provider import Provider

# A provider's token is a few kilobytes; a huge one is an attack on the parser (CVE-2025-61920).
MAX_LENGTH = 16 * 1024
# Header members that would let the token choose its own key; keys come from jwks_uri only.
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
# FAPI 2.0 §5.3.2.1 (14) and its Note 4: a timestamp up to 10 s ahead of this clock is accepted,
# one more than 60 s ahead never is (so that the checks cannot be switched off by a large leeway).
FAPI2_LEEWAY = (10, 60)


class JwtRejected(Exception):
    """The token is not one this provider signed as expected; `reason` is a short code
    (`malformed`, `too_large`, `algorithm_not_allowed`, `header_not_allowed`, `wrong_type`,
    `unknown_key`, `bad_signature`) that callers prefix with what the token was for."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify(provider: Provider, token: object, *, types: Collection[str | None]) -> jwt.Token:
    """The token's header and claims once its signature checks out; JwtRejected otherwise.

    `types` are the `typ` header values accepted (None: no `typ` at all).
    """
    if not isinstance(token, str):
        raise JwtRejected("malformed")
    header = _header(token)
    if header.get("alg") not in provider.id_token_algorithms:
        # Never `none`, never an HMAC keyed with a public key: only the pinned algorithms.
        raise JwtRejected("algorithm_not_allowed")
    if FORBIDDEN_HEADERS & header.keys():
        raise JwtRejected("header_not_allowed")
    if header.get("typ") not in types:
        # Explicit typing (RFC 8725 §3.11): one kind of token cannot pass for another.
        raise JwtRejected("wrong_type")
    try:
        return _decode(provider, token, metadata.key_set(provider))
    except InvalidKeyIdError:
        # The provider may have rotated its key since we cached the JWKS: fetch once more.
        try:
            return _decode(provider, token, metadata.key_set(provider, refetch=True))
        except InvalidKeyIdError as error:
            raise JwtRejected("unknown_key") from error


def leeway(provider: Provider) -> int:
    """The clock skew allowed on the timestamps (`iat`, `exp`, `nbf`, `auth_time`) of the
    provider's JWTs: `ID_TOKEN_LEEWAY`, held within FAPI 2.0's bounds under that profile."""
    configured = int(current_app.config["ID_TOKEN_LEEWAY"])
    if provider.profile == "fapi2":
        low, high = FAPI2_LEEWAY
        return min(max(configured, low), high)
    return configured


def only_for_this_client(provider: Provider, claims: Mapping[str, Any]) -> bool:
    """Whether our client is the token's audience and no untrusted party stands beside it
    (OIDC Core §3.1.3.7 (3)-(5)): a token also meant for another client could be its replay."""
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    return set(audiences) == {provider.client_id}


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_LENGTH:
        raise JwtRejected("too_large")
    parts = token.split(".")
    # Three parts: a signed token. Five would be an encrypted one, which is not configured.
    if len(parts) != 3:
        raise JwtRejected("malformed")
    try:
        header = json.loads(urlsafe_b64decode(parts[0].encode()))
    except (ValueError, TypeError) as error:
        raise JwtRejected("malformed") from error
    if not isinstance(header, dict):
        raise JwtRejected("malformed")
    return header


def _decode(provider: Provider, token: str, keys) -> jwt.Token:
    try:
        return jwt.decode(token, keys, algorithms=list(provider.id_token_algorithms))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError) as error:
        raise JwtRejected("bad_signature") from error
