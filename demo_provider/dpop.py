"""DPoP proofs (RFC 9449, Demonstrating Proof of Possession): the client holds a key pair and, with
every token request and every API call, sends a `DPoP` header with a fresh JWT signed by the
private key, naming the request it belongs to. Tokens issued against a proof are bound to the
key's thumbprint (`cnf.jkt`), so a stolen access or refresh token is useless without the key.

The checks of section 4.3, and why each exists:
- exactly one DPoP header, a compact JWS: two proofs would leave unclear which one was checked;
- `typ` is `dpop+jwt`: no other JWT the client signs (an assertion, say) passes for a proof;
- `alg` is one of a few asymmetric algorithms: never `none`, never HMAC, whose "public" key
  would be the secret;
- `jwk` is a public key, and the signature verifies with it: a private key in the header has
  been leaked by the very request that carries it;
- `htm` and `htu` are this request's method and URL (query and fragment aside): a proof made for
  one endpoint cannot be used at another;
- `iat` is within IAT_WINDOW seconds of now: proofs are made per request, so an old one was
  captured;
- `jti` is accepted once per URL (section 11.1): a captured proof cannot be replayed even
  within that window;
- at the resource server, `ath` is the hash of the access token sent with it, and the key is the
  one the token is bound to (section 7): a proof for one token cannot carry another;
- `nonce`, when the provider demands one (see `dpop_nonces`): the proof was made just now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import current_app, request
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from demo_provider import dpop_nonces, jwt_ids
from demo_provider.models import epoch_now

HEADER = "DPoP"
JWT_TYPE = "dpop+jwt"
# Advertised as dpop_signing_alg_values_supported. Ed25519 is RFC 9864's name for what RFC 8037
# calls EdDSA (with an Ed25519 key): both are accepted, for clients of either vintage.
ALGORITHMS = ["ES256", "PS256", "Ed25519", "EdDSA"]
KEY_TYPES = {"RSA", "EC", "OKP"}
# JWK members of a private or symmetric key (RFC 7518 section 6, RFC 8037).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
# Seconds a proof's iat may be off from now, either way (clock skew included).
IAT_WINDOW = 60
MAX_PROOF_LENGTH = 8192
# A base64url SHA-256 JWK thumbprint (RFC 7638): 32 bytes, 43 characters unpadded.
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidDpopProofError(OAuth2Error):
    """The DPoP proof is missing where required, malformed, or does not fit the request."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDpopNonceError(OAuth2Error):
    """The proof lacks a current nonce; the answer carries one in `DPoP-Nonce` to retry with."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self) -> None:
        super().__init__(description="Resend the request with a DPoP proof holding this nonce.")
        self.nonce = dpop_nonces.current()

    def get_headers(self):
        """JSON headers and the nonce to use."""
        return [*super().get_headers(), (dpop_nonces.HEADER, self.nonce)]


@dataclass(frozen=True)
class Proof:
    """A checked proof: what a token gets bound to."""

    jkt: str


def is_thumbprint(value: object) -> bool:
    """Whether `value` looks like a base64url SHA-256 JWK thumbprint (a `dpop_jkt`)."""
    return isinstance(value, str) and _THUMBPRINT.fullmatch(value) is not None


def access_token_hash(access_token: str) -> str:
    """The `ath` a proof sent with this access token must carry: base64url(SHA-256(token))."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def key_of_token_request(url: str, *, required: bool) -> str | None:
    """The thumbprint of the key proven by this request's DPoP header (sent to `url`), None when
    there is none and none is required; InvalidDpopProofError or UseDpopNonceError otherwise.
    """
    values = request.headers.getlist(HEADER)
    if not values:
        if required:
            raise InvalidDpopProofError("This provider requires a DPoP proof with every request.")
        return None
    return check_proof(values, method=request.method, url=url).jkt


def check_proof(
    values: Sequence[str],
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    bound_jkt: str | None = None,
) -> Proof:
    """Check the DPoP header values of a request with `method` to `url` (and, at the resource
    server, the `access_token` it came with and the key that token is bound to).
    """
    if len(values) != 1:
        raise InvalidDpopProofError("Send exactly one DPoP header.")
    claims, key = _verified(values[0])
    jti = claims.get("jti")
    if not jwt_ids.is_acceptable(jti):
        raise InvalidDpopProofError("The DPoP proof needs a jti.")
    if claims.get("htm") != method:
        raise InvalidDpopProofError("The DPoP proof is for another HTTP method (htm).")
    target = _normalized(url)
    if target is None or _normalized(claims.get("htu")) != target:
        raise InvalidDpopProofError("The DPoP proof is for another URL (htu).")
    issued_at = claims.get("iat")
    now = epoch_now()
    if not _is_number(issued_at) or abs(now - issued_at) > IAT_WINDOW:
        raise InvalidDpopProofError("The DPoP proof is too old or from the future (iat).")
    jkt = key.thumbprint()
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath, access_token_hash(access_token)
        ):
            raise InvalidDpopProofError("The DPoP proof does not name this access token (ath).")
    if bound_jkt is not None and not hmac.compare_digest(jkt, bound_jkt):
        raise InvalidDpopProofError("The DPoP proof is signed by another key than the token's.")
    if dpop_nonces.required() and not dpop_nonces.is_fresh(claims.get("nonce")):
        raise UseDpopNonceError()
    # Last: only a proof accepted in every other way uses up its jti.
    keep_until = int(issued_at) + IAT_WINDOW + 1
    if not jwt_ids.first_use("dpop", "|".join(map(str, target)), jti, keep_until=keep_until):
        raise InvalidDpopProofError("The DPoP proof was already used (jti).")
    return Proof(jkt=jkt)


def _verified(value: str) -> tuple[dict[str, Any], Any]:
    """The claims and public key of a proof whose form and signature check out."""
    if not value or len(value) > MAX_PROOF_LENGTH:
        raise InvalidDpopProofError("The DPoP proof is missing or too large.")
    try:
        unverified = jws.extract_compact(value.encode("ascii"))
        header = unverified.headers()
    except (JoseError, ValueError, TypeError):
        raise InvalidDpopProofError("The DPoP proof is not a JWT.") from None
    if str(header.get("typ", "")).lower() != JWT_TYPE:
        raise InvalidDpopProofError("The DPoP proof's typ must be dpop+jwt.")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise InvalidDpopProofError(f"The DPoP proof's alg must be one of {' '.join(ALGORITHMS)}.")
    key = _public_key(header.get("jwk"))
    try:
        verified = jws.deserialize_compact(value, key, algorithms=[alg])
        claims = json.loads(verified.payload)
    except (JoseError, ValueError, TypeError):
        raise InvalidDpopProofError("The DPoP proof's signature does not match its jwk.") from None
    if not isinstance(claims, dict):
        raise InvalidDpopProofError("The DPoP proof's payload must be a JSON object.")
    return claims, key


def _public_key(jwk: object):
    """The public key of the proof's `jwk` header, refusing private and symmetric keys."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") not in KEY_TYPES:
        raise InvalidDpopProofError("The DPoP proof needs a public RSA, EC or OKP key as jwk.")
    if PRIVATE_MEMBERS & set(jwk):
        raise InvalidDpopProofError("The DPoP proof's jwk must not hold a private key.")
    try:
        key = import_key(dict(jwk))
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidDpopProofError("The DPoP proof's jwk cannot be read.") from None
    if key.is_private:
        raise InvalidDpopProofError("The DPoP proof's jwk must not hold a private key.")
    return key


def _normalized(url: object) -> tuple[str, str, int | None, str] | None:
    """A URL's scheme, host, port and path, in the form RFC 3986 section 6 says compares equal
    (case of scheme and host, default port), without query or fragment; None if unreadable.
    """
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], parts.path or "/"


def _is_number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def issuer_url(path: str) -> str:
    """The URL of one of this provider's endpoints, from the configured issuer (never from the
    request's Host header, which the caller controls).
    """
    return current_app.config["DEMO_PROVIDER_ISSUER"] + path
