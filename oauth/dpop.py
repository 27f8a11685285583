"""DPoP (RFC 9449), the client's side: a key pair that the provider binds its tokens to, and the
proof JWT signed with it that goes with every token request and API call, so that a token copied
out of a log or a database is useless without the private key. Pure functions, no HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jwk, jwt

from oauth import challenges, client_keys

#: The `typ` of a proof (§4.2): explicit typing, so that no other JWT can pass for a proof.
PROOF_TYPE = "dpop+jwt"
ALGORITHMS = client_keys.ALGORITHMS
#: A nonce is opaque and typically a few dozen characters; one far longer is not a nonce.
MAX_NONCE_LENGTH = 1024
# An error body or a challenge header is a few hundred bytes; anything larger is not one.
MAX_ERROR_LENGTH = 16 * 1024
NONCE_ERROR = "use_dpop_nonce"

# RFC 9449 §8.1: nonce = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E (printable ASCII
# without space, double quote and backslash).
_NONCE = re.compile(rf"{challenges.NQCHAR}+")
# RFC 9110 §9.1: a method name is a token.
_METHOD = re.compile(challenges.TCHARS)


def new_key(alg: str = "ES256") -> client_keys.PrivateKey:
    """A fresh key pair for DPoP: EC P-256 for ES256, RSA 2048 for PS256, Ed25519 for Ed25519
    and EdDSA (the key keeps the name it was made for, and signs under it)."""
    return client_keys.new_key(alg)


def serialize(key: client_keys.PrivateKey) -> str:
    """The private JWK as JSON text; the caller stores it encrypted, like the tokens bound to it."""
    client_keys.algorithm(key)
    return json.dumps(key.as_dict(private=True), sort_keys=True)


def deserialize(text: str | bytes) -> client_keys.PrivateKey:
    """The key `serialize` wrote; ValueError for anything but a private key of an allowed type."""
    data = client_keys.load_json(text)
    if data is client_keys.NOT_JSON:
        raise ValueError("the stored DPoP key is not valid JSON")
    try:
        return client_keys.import_private(data)
    except ValueError as error:
        raise ValueError(f"the stored DPoP key is refused: {error}") from None


def thumbprint(key: jwk.Key) -> str:
    """The RFC 7638 SHA-256 thumbprint of the public key: `dpop_jkt`, a bound token's `cnf.jkt`."""
    return key.thumbprint()


def access_token_hash(token: str) -> str:
    """The `ath` claim (§4.2): base64url of the SHA-256 of the token's ASCII bytes, unpadded."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def proof(
    key: client_keys.PrivateKey,
    *,
    method: str,
    url: str,
    nonce: str | None = None,
    access_token: str | None = None,
    now: int | None = None,
) -> str:
    """A DPoP proof JWT for one HTTP request: a new one for every request, never reused."""
    if not key.is_private:
        raise ValueError("a DPoP proof is signed with the private key")
    alg = client_keys.algorithm(key)
    if not _METHOD.fullmatch(method):
        raise ValueError("method is not an HTTP method name")
    # The public members only: the header travels with every request, in the clear.
    header = {"typ": PROOF_TYPE, "alg": alg, "jwk": client_keys.public_members(key)}
    claims: dict[str, Any] = {
        # 128 random bits: the server remembers the jti to refuse a replayed proof (§11.1).
        "jti": secrets.token_urlsafe(16),
        "htm": method.upper(),
        "htu": target_uri(url),
        "iat": int(time.time()) if now is None else now,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        # Binds the proof to this token, so a proof captured with one token fits no other.
        claims["ath"] = access_token_hash(access_token)
    return jwt.encode(header, claims, key, algorithms=[alg])


def target_uri(url: str) -> str:
    """The `htu` for a request to `url`: the URL without its query and fragment (§4.2)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("the DPoP target must be an absolute http(s) URL")
    if "@" in parts.netloc:
        # Credentials are never part of the target URI, and the proof is not a place for them.
        raise ValueError("the DPoP target must not carry credentials")
    # An empty path is "/" on the wire (RFC 9110 §4.2.3), and that is what the server rebuilds.
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def nonce_from(response_headers: Mapping[str, str]) -> str | None:
    """The server's `DPoP-Nonce` (§8, §9) if there is exactly one and it is well-formed."""
    values = challenges.header_values(response_headers, "dpop-nonce")
    if len(values) != 1:
        return None
    value = values[0].strip(" \t")
    if len(value) > MAX_NONCE_LENGTH or not _NONCE.fullmatch(value):
        return None
    return value


def is_nonce_error(status: int, headers: Mapping[str, str], body: object) -> bool:
    """Whether the server refused the proof only for want of its nonce, so that one retry with
    the nonce from `nonce_from` is the answer: the token endpoint says so with
    `400 {"error": "use_dpop_nonce"}` (§8), a resource server with a `401` whose DPoP challenge
    carries `error="use_dpop_nonce"` (§9)."""
    if status == 400:
        return _error_code(body) == NONCE_ERROR
    if status == 401:
        return challenge_error(headers) == NONCE_ERROR
    return False


def challenge_error(headers: Mapping[str, str]) -> str | None:
    """The `error` of a resource server's DPoP challenge in `WWW-Authenticate` (§7.1), if any:
    `invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce`..."""
    return challenges.error(headers, ("dpop",))[0] or None


def _error_code(body: object) -> object:
    if isinstance(body, (str, bytes, bytearray)):
        if len(body) > MAX_ERROR_LENGTH:
            return None
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, Mapping):
        return body.get("error")
    return None
