"""The fake provider's side of DPoP (RFC 9449), written independently of the client's
`oauth/dpop.py` so that each checks the other: a proof's header, signature, claims and nonce;
and the errors a real authorization or resource server answers with.
"""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

# Ed25519 (RFC 9864) and EdDSA (RFC 8037): one algorithm with an Ed25519 key, under two names.
ALGORITHMS = ["ES256", "PS256", "Ed25519", "EdDSA"]
IAT_WINDOW = 60
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


class ProofRefused(Exception):
    """The proof is missing, malformed or wrong; `error` is the RFC 9449 error code."""

    def __init__(self, error: str = "invalid_dpop_proof") -> None:
        super().__init__(error)
        self.error = error


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict) -> str:
    """RFC 7638, computed by hand from the required members."""
    required = {
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
        "OKP": ("crv", "kty", "x"),
    }
    members = required[jwk["kty"]]
    canonical = "{" + ",".join(f'"{name}":"{jwk[name]}"' for name in members) + "}"
    return _b64(hashlib.sha256(canonical.encode()).digest())


def verify(
    proof: str | None,
    *,
    method: str,
    url: str,
    seen: set[str],
    nonce: str | None = None,
    access_token: str | None = None,
) -> str:
    """The JWK thumbprint of a valid proof; ProofRefused otherwise (`use_dpop_nonce` when only
    the nonce is missing or stale)."""
    if not proof:
        raise ProofRefused()
    try:
        header = jws.extract_compact(proof.encode()).protected
        jwk = header["jwk"]
        if header.get("typ") != "dpop+jwt" or PRIVATE_MEMBERS & set(jwk):
            raise ProofRefused()
        key_type = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}[jwk["kty"]]
        key = key_type.import_key(jwk)
        registry = jws.JWSRegistry(algorithms=ALGORITHMS)
        # A proof's header carries its public key: an RSA one is past joserfc's 512-byte cap.
        registry.max_header_length = 2048
        claims = jwt.decode(proof, key, algorithms=ALGORITHMS, registry=registry).claims
    except (JoseError, KeyError, TypeError, ValueError) as error:
        raise ProofRefused() from error
    htu = urlunsplit(urlsplit(url)._replace(query="", fragment=""))
    if (
        claims.get("htm") != method
        or claims.get("htu") != htu
        or not isinstance(claims.get("iat"), int)
        or abs(claims["iat"] - time.time()) > IAT_WINDOW
        or not isinstance(claims.get("jti"), str)
        or claims["jti"] in seen
    ):
        raise ProofRefused()
    if access_token is not None:
        expected = _b64(hashlib.sha256(access_token.encode()).digest())
        if claims.get("ath") != expected:
            raise ProofRefused()
    if nonce is not None and claims.get("nonce") != nonce:
        raise ProofRefused("use_dpop_nonce")
    seen.add(claims["jti"])
    return thumbprint(jwk)
