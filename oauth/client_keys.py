"""The client's own signing keys: the kinds of private key it signs with (EC P-256 for ES256,
RSA of 2048 bits or more for PS256, Ed25519 for Ed25519 or EdDSA), `CLIENT_SIGNING_KEYS` read
from configuration, and the public half published at `/.well-known/jwks.json` for providers.

Rotation follows the same order rule as `TOKEN_ENCRYPTION_KEYS`: the first key signs, every key
is published. Add the new key LAST, so providers that cache the JWKS learn it before it signs
anything; once their caches have expired, move it FIRST; remove the old key only when nothing
it signed can still be in use (client assertions live a minute, so after the next cache expiry).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from joserfc import jwk
from joserfc.errors import JoseError

PrivateKey = jwk.ECKey | jwk.RSAKey | jwk.OKPKey

#: What each key type signs with. RS256 is left out on purpose: FAPI 2.0 allows only PS256,
#: ES256 and EdDSA, and PKCS#1 v1.5 signatures are the weaker of the two RSA schemes.
ALGORITHMS = ("ES256", "PS256", "Ed25519", "EdDSA")
#: Two names for one algorithm: RFC 9864 registers `Ed25519`, which names its curve, and
#: deprecates RFC 8037's `EdDSA`, which does not; providers list one or the other. An Ed25519
#: key signs under the name its JWK's `alg` gives, `EdDSA` when it gives none (what providers
#: have listed longest). JOSE libraries hold a key to its `alg`, so the published key and the
#: signatures always agree.
ED25519_NAMES = ("Ed25519", "EdDSA")
MIN_RSA_BITS = 2048
#: What `load_json` returns for text that is not JSON.
NOT_JSON = object()


def new_key(alg: str = "ES256") -> PrivateKey:
    """A freshly generated private key for `alg`."""
    if alg == "ES256":
        return jwk.ECKey.generate_key("P-256")
    if alg == "PS256":
        return jwk.RSAKey.generate_key(MIN_RSA_BITS)
    if alg in ED25519_NAMES:
        return jwk.OKPKey.generate_key("Ed25519", parameters={"alg": alg})
    raise ValueError(f"unsupported signing algorithm; use one of {', '.join(ALGORITHMS)}")


def algorithm(key: object) -> str:
    """The JWS algorithm this key signs with; ValueError if the client does not sign with it."""
    if isinstance(key, jwk.ECKey):
        if key.curve_name != "P-256":
            raise ValueError("an EC key must be on curve P-256 (ES256)")
        return "ES256"
    if isinstance(key, jwk.RSAKey):
        if key.public_key.key_size < MIN_RSA_BITS:
            raise ValueError(f"an RSA key must have at least {MIN_RSA_BITS} bits (PS256)")
        return "PS256"
    if isinstance(key, jwk.OKPKey):
        if key.curve_name != "Ed25519":
            raise ValueError("an OKP key must be on curve Ed25519 (Ed25519 or EdDSA)")
        return key.alg if key.alg in ED25519_NAMES else "EdDSA"
    raise ValueError("the key type is not one the client signs with: use EC, RSA or OKP")


def import_private(data: object) -> PrivateKey:
    """A private signing key from its JWK as a dict; ValueError, naming no key value, otherwise."""
    if not isinstance(data, dict):
        raise ValueError("a JWK must be a JSON object")
    kty = data.get("kty")
    if kty == "oct":
        raise ValueError("a symmetric key (kty oct) cannot sign for a client; use EC, RSA or OKP")
    if kty not in ("EC", "RSA", "OKP"):
        raise ValueError("missing or unsupported kty; use EC, RSA or OKP")
    if "d" not in data:
        raise ValueError("this is a public key: a signing key needs its private part (d)")
    if kty == "RSA" and _modulus_bits(data.get("n")) < MIN_RSA_BITS:
        # Checked before the import, which would only warn about it.
        raise ValueError(f"an RSA key must have at least {MIN_RSA_BITS} bits (PS256)")
    try:
        key: PrivateKey | None = jwk.JWKRegistry.import_key(data)
    except (JoseError, ValueError, TypeError):
        key = None
    if key is None:
        # Raised outside the `except`: the library's error may quote a member's value, and
        # would travel along as `__context__`; ours never quotes one.
        raise ValueError(f"not a valid {kty} private key")
    if not key.is_private:
        raise ValueError("this is a public key: a signing key needs its private part (d)")
    alg = algorithm(key)
    if data.get("alg", alg) != alg:
        names = " or ".join(ED25519_NAMES) if alg in ED25519_NAMES else alg
        raise ValueError(f"a key of this type signs with {names} here; remove or fix its alg")
    if data.get("use", "sig") != "sig":
        raise ValueError('the key\'s "use" is not "sig"')
    key_ops = data.get("key_ops")
    if key_ops is not None and "sign" not in key_ops:
        raise ValueError('the key\'s "key_ops" does not allow "sign"')
    return key


def public_members(key: PrivateKey) -> dict[str, Any]:
    """The members that make up the public key (RFC 7638 §3.2), and nothing else.

    Built from an allow-list rather than by deleting private members, so that a member the
    library adds later can never carry private material into a published key or a proof.
    """
    members = {"kty": key.key_type}
    for name, parameter in key.value_registry.items():
        if parameter.required and not parameter.private:
            members[name] = key[name]
    return members


def parse(text: str) -> list[PrivateKey]:
    """`CLIENT_SIGNING_KEYS`, a JWK Set of private keys; ValueError saying what is wrong."""
    document = load_json(text)
    if document is NOT_JSON:
        raise ValueError("CLIENT_SIGNING_KEYS is not valid JSON")
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('CLIENT_SIGNING_KEYS must be a JWK Set: {"keys": [...]}')
    if not document["keys"]:
        raise ValueError("CLIENT_SIGNING_KEYS has no keys")
    keys: list[PrivateKey] = []
    seen: set[str] = set()
    for number, data in enumerate(document["keys"], start=1):
        try:
            key = _import_entry(data)
        except ValueError as error:
            raise ValueError(f"CLIENT_SIGNING_KEYS key {number}: {error}") from None
        # A missing kid becomes the key's RFC 7638 thumbprint: stable, and unique per key.
        key.ensure_kid()
        if key.kid in seen:
            # Providers pick the verification key by kid: two keys with one kid break rotation.
            raise ValueError(
                f"CLIENT_SIGNING_KEYS key {number}: duplicate kid {key.kid!r}; "
                "each key needs its own kid"
            )
        seen.add(key.kid)
        keys.append(key)
    return keys


def signing_key(keys: list[PrivateKey]) -> PrivateKey:
    """The key that signs now: the first one (the rest are published for rotation)."""
    if not keys:
        raise ValueError("no client signing keys are configured")
    return keys[0]


def public_jwks(keys: list[PrivateKey]) -> dict[str, list[dict[str, Any]]]:
    """The JWK Set to publish: public members, `kid`, `use` and `alg` of every key, in order."""
    published = []
    for key in keys:
        key.ensure_kid()
        published.append(
            {**public_members(key), "kid": key.kid, "use": "sig", "alg": algorithm(key)}
        )
    return {"keys": published}


def generate(alg: str = "ES256") -> str:
    """A new one-key `CLIENT_SIGNING_KEYS` value, as JSON text (for `instance/` in development)."""
    key = new_key(alg)
    key.ensure_kid()
    private = {**key.as_dict(private=True), "use": "sig", "alg": alg}
    return json.dumps({"keys": [private]}, indent=2)


def load_json(text: str | bytes) -> object:
    """The JSON value of `text`, or NOT_JSON.

    No exception on purpose: a decode error holds the whole text (`doc`), private keys
    included, and would ride along as the `__context__` of any error raised while handling it.
    """
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return NOT_JSON


def _import_entry(data: object) -> PrivateKey:
    if isinstance(data, dict) and "kid" in data:
        kid = data["kid"]
        if not isinstance(kid, str) or not kid:
            raise ValueError("kid must be a non-empty string")
    return import_private(data)


def _modulus_bits(n: object) -> int:
    if not isinstance(n, str):
        return 0
    try:
        modulus = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except ValueError:
        return 0
    return int.from_bytes(modulus, "big").bit_length()
