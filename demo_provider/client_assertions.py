"""`private_key_jwt` client authentication (RFC 7523 sections 2.2 and 3, OIDC Core section 9): at
the token, PAR and revocation endpoints a client sends `client_assertion_type=urn:ietf:params:
oauth:client-assertion-type:jwt-bearer` and a `client_assertion`, a JWT it signed with its own
private key. The provider holds only the public key, so nothing it stores lets anyone else
authenticate as the client. Built on Authlib's `JWTBearerClientAssertion`.

Each check, and why:
- the signature, with one of the client's registered keys and a pinned asymmetric algorithm:
  `none` would accept anything, and an HMAC algorithm would let the public key act as a secret;
- `iss` = `sub` = the client_id: the client speaks for itself, not a third party (and a
  `client_id` in the form must name the same client);
- `aud` names this provider (its issuer identifier, or the token or PAR endpoint): an assertion
  made for another server cannot be replayed here;
- `exp` present, not past, and at most a few minutes after `iat` (or now): a captured assertion
  is not useful for long;
- `jti` accepted once: a captured assertion is not useful twice.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from demo_provider import client_keys, jwt_ids
from demo_provider.models import PRIVATE_KEY_JWT, Client, epoch_now

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Asymmetric only (see above); advertised as token_endpoint_auth_signing_alg_values_supported.
# Ed25519 and EdDSA: one algorithm under RFC 9864's name and RFC 8037's.
ALGORITHMS = ["ES256", "PS256", "RS256", "Ed25519", "EdDSA"]
# Seconds an assertion may live, from its iat (or from now when it has none).
MAX_LIFETIME = 300
# Clock skew allowed on exp, nbf and iat.
LEEWAY = 30
MAX_ASSERTION_LENGTH = 8192


def audiences() -> list[str]:
    """What `aud` may name: this provider's issuer identifier, or the endpoint it is sent to."""
    issuer = current_app.config["DEMO_PROVIDER_ISSUER"]
    return [issuer, f"{issuer}/token", f"{issuer}/par"]


class PrivateKeyJwt(JWTBearerClientAssertion):
    """The `private_key_jwt` authentication method, registered with the authorization server."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=LEEWAY)

    def __call__(self, query_client, request):
        """The client the assertion authenticates, None when the request has no assertion, or
        InvalidClientError.
        """
        form = request.form
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            return None
        if len(assertion) > MAX_ASSERTION_LENGTH:
            raise InvalidClientError(description="The client assertion is too large.")
        if form.get("client_secret") or request.headers.get("Authorization"):
            # RFC 6749 section 2.3: one authentication method per request, so that what was
            # checked is unambiguous.
            raise InvalidClientError(description="Use one client authentication method only.")
        client = super().__call__(query_client, request)
        claimed = form.get("client_id")
        if claimed is not None and claimed != client.client_id:
            raise InvalidClientError(description="client_id does not match the assertion.")
        return client

    def get_audiences(self) -> list[str]:
        """See `audiences`."""
        return audiences()

    def resolve_client_public_key(self, client: Client):
        """A key resolver for joserfc: the registered key the assertion's `kid` names (or the
        only one), fetching a jwks_uri again once when the kid is unknown (a rotated key).
        """
        if PRIVATE_KEY_JWT not in client.auth_methods:
            # Checked before any key is fetched: a client with a secret has no keys to try.
            raise InvalidClientError(description="The client does not use private_key_jwt.")
        try:
            keys = client_keys.key_set(client)
        except client_keys.KeysUnavailable as error:
            raise InvalidClientError(description=str(error)) from None

        def resolve(token: Any):
            header = token.headers()
            try:
                return _pick(keys, header)
            except InvalidKeyIdError:
                if not client_keys.uses_jwks_uri(client):
                    raise
            try:
                return _pick(client_keys.key_set(client, fresh=True), header)
            except client_keys.KeysUnavailable as error:
                raise InvalidKeyIdError(str(error)) from None

        return resolve

    def process_assertion_claims(self, assertion, resolve_key):
        """Verify the signature with the pinned algorithms, then the claims."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except (JoseError, ValueError, TypeError):
            # The reason is not echoed: "bad signature" and "unknown key" look the same outside.
            raise InvalidClientError(description="The client assertion is invalid.") from None
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        """iss, sub, aud, exp (and nbf, iat when present), the lifetime, then the jti, last, so
        that only an assertion accepted in every other way uses up its id.
        """
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            # The error code only: descriptions may quote claim values, which may hold anything.
            raise InvalidClientError(description=f"Invalid claims ({error.error}).") from None
        if claims["iss"] != claims["sub"]:
            raise InvalidClientError(description="iss and sub must both be the client_id.")
        issued_at = claims.get("iat", epoch_now())
        if not isinstance(issued_at, int | float) or claims["exp"] - issued_at > MAX_LIFETIME:
            raise InvalidClientError(
                description=f"The client assertion may live {MAX_LIFETIME} seconds at most."
            )
        jti = claims["jti"]
        if not jwt_ids.is_acceptable(jti):
            raise InvalidClientError(description="Invalid jti.")
        keep_until = int(claims["exp"]) + self.leeway
        if not jwt_ids.first_use("client_assertion", claims["sub"], jti, keep_until=keep_until):
            raise InvalidClientError(description="The client assertion was already used.")


def _pick(keys: KeySet, header: dict[str, Any]):
    """The key named by `kid`; without one, the only key of the algorithm's type."""
    kid = header.get("kid")
    if kid is not None:
        return keys.get_by_kid(kid)
    family = {"ES": "EC", "PS": "RSA", "RS": "RSA", "Ed": "OKP"}.get(str(header.get("alg"))[:2])
    candidates = [key for key in keys if key.key_type == family]
    if len(candidates) != 1:
        raise InvalidKeyIdError("Name the key with kid.")
    return candidates[0]
