"""ID token validation as OpenID Connect Core §3.1.3.7 requires, closing the gaps a library leaves
to the app: pinned algorithms, keys only from the provider's JWKS, exact `iss`, our client in `aud`
(and nothing untrusted beside it), `azp`, `exp`, `iat`, and the `nonce` of this sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from oauth import signals, signed_jwt
from oauth.errors import SignInRejected
from oauth.provider import Provider


def _reject(reason: str) -> SignInRejected:
    return SignInRejected(reason, "The identity token from the provider failed validation.")


def validate(
    provider: Provider,
    id_token: str,
    *,
    nonce: str | None,
    access_token: str | None = None,
    original: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The verified claims of an ID token, or SignInRejected.

    `nonce` is the value sent in this sign-in's authorization request; `access_token` the one
    that came with the ID token (checked against `at_hash` when present); `original` holds the
    claims of the first ID token when this one came back with a refresh (Core §12.2: same
    `iss` and `sub`).
    """
    try:
        token = signed_jwt.verify(provider, id_token, types=(None, "JWT", "jwt"))
    except signed_jwt.JwtRejected as error:
        raise _reject(f"id_token_{error.reason}") from error
    header = token.header
    claims = token.claims
    _check_claims(provider, claims, nonce)
    if "at_hash" in claims:
        _check_at_hash(claims["at_hash"], access_token, header["alg"])
    if original is not None and (
        claims.get("iss") != original.get("iss") or claims.get("sub") != original.get("sub")
    ):
        raise _reject("id_token_subject_changed")
    if signals.id_token_verified.heard():
        # Read-only views: the claims returned here decide who signs in.
        signals.id_token_verified.announce(
            provider=provider,
            header=MappingProxyType(header),
            claims=MappingProxyType(claims),
            nonce_checked=nonce is not None,
            same_subject_checked=original is not None,
        )
    return claims


# Core §3.1.3.8: at_hash is the left half of the access token's hash, with the hash named by the
# ID token's algorithm. An algorithm missing here fails closed (CVE-2026-28498 failed open).
_AT_HASH_FUNCTIONS = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
# EdDSA's name gives no hash: OpenID Connect Token Hash Algorithms 1.0 gives SHA-512 for Ed25519
# (the hash inside its signatures), whether the token says `Ed25519` (RFC 9864) or `EdDSA`. The
# pinned lists allow EdDSA only under FAPI 2.0, which allows only its Ed25519 variant; an Ed448
# key's token would need SHAKE256, so its at_hash does not match here and it is refused.
_AT_HASH_FUNCTIONS_BY_NAME = {"Ed25519": hashlib.sha512, "EdDSA": hashlib.sha512}


def _check_at_hash(at_hash: object, access_token: str | None, alg: str) -> None:
    """An `at_hash` that is present must match the access token it came with."""
    function = _AT_HASH_FUNCTIONS_BY_NAME.get(alg) or _AT_HASH_FUNCTIONS.get(alg[-3:])
    if function is None or not isinstance(at_hash, str) or not isinstance(access_token, str):
        raise _reject("id_token_invalid_at_hash")
    digest = function(access_token.encode("ascii", "surrogateescape")).digest()
    expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    if not hmac.compare_digest(expected, at_hash):
        raise _reject("id_token_invalid_at_hash")


def _check_claims(provider: Provider, claims: dict[str, Any], nonce: str | None) -> None:
    registry = jwt.JWTClaimsRegistry(
        leeway=signed_jwt.leeway(provider),
        iss={"essential": True, "value": provider.issuer},
        sub={"essential": True},
        aud={"essential": True, "value": provider.client_id},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        name = getattr(error, "claim", None) or "claims"
        raise _reject(f"id_token_invalid_{name}") from error

    sub = claims["sub"]
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise _reject("id_token_invalid_sub")
    # Core §3.1.3.7 (3)-(5): our client must be an audience and no untrusted one may stand
    # beside it; with several audiences, `azp` must name us.
    if not signed_jwt.only_for_this_client(provider, claims):
        raise _reject("id_token_untrusted_audience")
    if "azp" in claims and claims["azp"] != provider.client_id:
        raise _reject("id_token_invalid_azp")
    if not isinstance(claims["iat"], int | float):
        raise _reject("id_token_invalid_iat")
    # The nonce binds the token to the authorization request this browser made: a token
    # injected from another sign-in carries another nonce.
    if nonce is not None:
        received = claims.get("nonce")
        if not isinstance(received, str) or not hmac.compare_digest(received, nonce):
            raise _reject("id_token_invalid_nonce")
