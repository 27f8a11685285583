"""The provider's ID-token signing key: generated per install, published as a JWKS (public part
only), used to sign ID tokens with RS256 through joserfc, and to recognise the ones it signed.
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from demo_provider import instance_files

ALGORITHM = "RS256"
# Passing the algorithm list explicitly means joserfc can never be talked into "none" or HS256.
ALGORITHMS = [ALGORITHM]
EXTENSION_KEY = "demo_provider.signing_key"


def load_or_create_key(path: str) -> RSAKey:
    """This install's RSA private key, generated into `path` (mode 0600) on first start."""
    raw = instance_files.read_or_create(path, _new_private_jwk)
    key = RSAKey.import_key(json.loads(raw))
    if not key.is_private:
        raise ValueError(f"The signing key in {path} has no private part")
    # The kid lets relying parties pick the right key once keys are rotated (RFC 7638 thumbprint).
    key.ensure_kid()
    return key


def _new_private_jwk() -> bytes:
    """A fresh RSA 2048 private JWK, serialised."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
    return json.dumps(key.as_dict(private=True), indent=2).encode("utf-8")


def current_key() -> RSAKey:
    """The signing key of the provider app handling this request."""
    return current_app.extensions[EXTENSION_KEY]


def public_jwks(key: RSAKey) -> dict[str, Any]:
    """The JWKS document: public members only (no d, p, q, dp, dq, qi), with kid, use and alg."""
    public = key.as_dict(private=False)
    public.update(use="sig", alg=ALGORITHM, kid=key.kid)
    return {"keys": [public]}


def sign_id_token(claims: dict[str, Any]) -> str:
    """Sign `claims` as a compact JWT with the current key, naming it by kid in the header."""
    key = current_key()
    header = {"alg": ALGORITHM, "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=ALGORITHMS)


def claims_if_signed_here(token: str) -> dict[str, Any] | None:
    """The claims of a JWT carrying this install's RS256 signature, or None for anything else.

    Only the signature is checked: which claims matter (and whether expiry does) is up to the
    caller.
    """
    try:
        return dict(jwt.decode(token, current_key(), algorithms=ALGORITHMS).claims)
    except (JoseError, ValueError):
        return None
