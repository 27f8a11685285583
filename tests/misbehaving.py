"""A provider that misbehaves on purpose, for tests only: rewrites what the live fake provider
answers (token responses, ID tokens, userinfo, discovery, JWKS) and forges ID tokens the way a
broken provider or an attacker would, signing them with the provider's own key when asked.
Nothing outside tests/ can reach it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from extensions import db
from models import LinkedAccount, LoginAttempt, User

#: Put in place of a value to remove that member from a header or claim set.
DROP = object()

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Mapping[str, Any]) -> str:
    """A JOSE header or claim set, serialised as one compact segment."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsegment(value: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def read(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWT, unverified (the tests trust their own provider)."""
    header, claims, _ = token.split(".")
    return unsegment(header), unsegment(claims)


def changed(original: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `original` with `changes` applied; a DROP value removes that member."""
    result = dict(original)
    for name, value in changes.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def forge(header: Mapping[str, Any], claims: Mapping[str, Any], key: Any = None) -> str:
    """A compact JWS with exactly this header, signed by hand with the algorithm the header names.

    Signing by hand, not through a JOSE library, lets the header carry what a library would
    refuse to write (`alg: none`, `crit`, `jwk`, HMAC keyed with a public key).
    `key` is an RSAKey for RS*/PS*, bytes for HS*, ignored for none.
    """
    alg = str(header.get("alg", ""))
    signing_input = f"{segment(header)}.{segment(claims)}".encode()
    if alg.lower() == "none":
        signature = b""
    elif alg.startswith("HS"):
        digest = getattr(hashlib, "sha" + alg[2:])
        signature = hmac.new(key, signing_input, digest).digest()
    elif alg.startswith(("RS", "PS")):
        hash_ = _HASHES[alg[2:]]()
        scheme = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(hash_), salt_length=hash_.digest_size)
        )
        signature = key.private_key.sign(signing_input, scheme, hash_)
    else:
        raise ValueError(f"cannot forge alg {alg!r}")
    return f"{signing_input.decode()}.{b64url(signature)}"


def new_rsa_key(kid: str | None = None) -> RSAKey:
    """A fresh RSA signing key: an attacker's, or the provider's next one after rotation."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    if kid is not None:
        key = RSAKey.import_key({**key.as_dict(private=True), "kid": kid})
    return key


def public_jwk(key: RSAKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "use": "sig", "alg": "RS256", "kid": key.kid}


class MisbehavingProvider:
    """A live provider, made to misbehave for the next request(s) to one endpoint. It must hand
    over its private signing key (`LiveProvider.signing_key`), as the fake provider does."""

    def __init__(self, live_provider) -> None:
        self.live = live_provider
        self.issuer: str = live_provider.issuer
        self.recorder = live_provider.recorder

    @property
    def key(self) -> RSAKey:
        """The provider's own private signing key."""
        if self.live.signing_key is None:
            raise LookupError(f"the provider at {self.issuer} does not share its signing key")
        return self.live.signing_key

    # -- ID tokens ---------------------------------------------------------------------------

    def resign(
        self,
        token: str,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        key: Any = None,
    ) -> str:
        """The token with claims and header members changed, signed again (by the provider's
        key unless another is given), so only the change differs from a genuine token."""
        original_header, original_claims = read(token)
        return forge(
            changed(original_header, header or {}),
            changed(original_claims, claims or {}),
            self.key if key is None else key,
        )

    def token_response(self, change: Callable[[dict[str, Any]], Any], times: int = 1) -> None:
        """Pass the next token endpoint answer(s) through `change`."""
        self.recorder.rewrite("/token", change, times)

    def id_token(self, change: Callable[[str], str], times: int = 1) -> None:
        """Replace the ID token of the next token response(s) with `change(original)`."""
        self.token_response(lambda body: {**body, "id_token": change(body["id_token"])}, times)

    def id_token_claims(self, **claims: Any) -> None:
        """The next ID token with these claims changed (DROP removes one), validly signed."""
        self.id_token(lambda token: self.resign(token, claims=claims))

    def id_token_header(self, **header: Any) -> None:
        """The next ID token with these header members changed, validly signed."""
        self.id_token(lambda token: self.resign(token, header=header))

    # -- Other endpoints ---------------------------------------------------------------------

    def userinfo(self, change: Callable[[dict[str, Any]], Any]) -> None:
        self.recorder.rewrite("/userinfo", change)

    def discovery(self, change: Callable[[dict[str, Any]], Any]) -> None:
        self.recorder.rewrite("/.well-known/openid-configuration", change, times=None)

    def jwks(self, change: Callable[[dict[str, Any]], Any]) -> None:
        """Every JWKS answer from now on passes through `change`."""
        self.recorder.rewrite("/jwks.json", change, times=None)

    def rotate_key(self, new_key: RSAKey) -> None:
        """Publish a new signing key beside the current one, as a provider does when rotating."""
        self.jwks(lambda document: {"keys": [*document["keys"], public_jwk(new_key)]})


def random_kid() -> str:
    return secrets.token_urlsafe(8)


# -- What a refused sign-in looks like -------------------------------------------------------


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def stored_link(app) -> LinkedAccount:
    """The one link in the database, as stored (detached: its values, read after the request)."""
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        db.session.expunge(link)
        return link


def assert_refused(response, status: int, reason: str | None = None) -> str:
    """An error page with this status and reason code: no redirect, no traceback."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert "Location" not in response.headers
    assert "Traceback" not in text
    assert "Back to sign-in" in text
    if reason is not None:
        assert f"<code>{reason}</code>" in text
    return text


def assert_nothing_stored(app, client=None, *, pending: int = 0) -> None:
    """No user and no linked account; the refused attempt was used up (`pending` others may
    remain); the browser is not signed in."""
    assert count(app, User) == 0
    assert count(app, LinkedAccount) == 0
    assert count(app, LoginAttempt) == pending
    if client is not None:
        assert client.get("/profile").status_code == 302
