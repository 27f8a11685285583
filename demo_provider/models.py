"""The demo provider's tables: people, registered clients (with their post-logout return
addresses, back-channel logout address, how they were registered and how they authenticate),
grants (one consent and every code and token descending from it), authorization codes and tokens
(with their DPoP key bindings), pushed authorization requests, the JWT ids already accepted, and
the provider's sign-in sessions (which grant came from which, which clients took part). Secrets
are stored only as digests.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import UTC, date, datetime

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import JSON, ColumnElement, ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from demo_provider.extensions import db

# How a client proves who it is at the token and revocation endpoints: confidential clients with
# their secret, public clients (a browser or mobile app, which cannot keep one) with nothing.
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
NO_AUTH_METHOD = "none"
# A confidential client proving itself with a JWT signed by its own private key (RFC 7523
# section 2.2, OIDC Core section 9): nothing secret is shared with the provider.
PRIVATE_KEY_JWT = "private_key_jwt"

# Where a client's registration came from.
FROM_CONFIGURATION = "configuration"
FROM_COMMAND_LINE = "command line"
FROM_IMPLICIT_LAB = "implicit lab"

# Every table is prefixed so that, even if someone points this provider at the client's
# database by mistake, nothing collides ("user" is also reserved in PostgreSQL).
PREFIX = "demo_provider_"


def epoch_now() -> int:
    """The current time in whole seconds since the epoch (what JWT and OAuth lifetimes use)."""
    return int(time.time())


def utc_today() -> date:
    """Today's date in UTC."""
    return datetime.now(UTC).date()


def new_subject() -> str:
    """A fresh random subject identifier, never derived from anything about the person."""
    return uuid.uuid4().hex


def new_grant_id() -> str:
    """A fresh random id for a grant (the family of codes and tokens from one consent)."""
    return uuid.uuid4().hex


def digest(secret: str) -> str:
    """The SHA-256 hex digest a secret is stored and looked up by.

    Codes, tokens and client secrets here are high-entropy random strings, so a plain hash is
    enough: a stolen database copy yields nothing that can be replayed.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class User(db.Model):
    """A resource owner who can sign in at the provider."""

    __tablename__ = f"{PREFIX}user"

    id: Mapped[int] = mapped_column(primary_key=True)
    # `sub` is the identity the client keys on: random, stable, never reassigned.
    sub: Mapped[str] = mapped_column(String(64), unique=True, default=new_subject)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(default=False)
    bio: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    member_since: Mapped[date] = mapped_column(default=utc_today)

    @classmethod
    def find_by_username(cls, username: str) -> User | None:
        """The user with this username, if any."""
        return db.session.scalar(select(cls).where(cls.username == username))


class Client(db.Model, ClientMixin):
    """A registered client (relying party): confidential, with a secret, or public, without."""

    __tablename__ = f"{PREFIX}client"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Empty for a public client: no digest is empty, so no secret can ever match it.
    client_secret_hash: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(120))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text)

    post_logout_redirects: Mapped[list[PostLogoutRedirectUri]] = relationship(
        cascade="all, delete-orphan", order_by="PostLogoutRedirectUri.id"
    )
    registration: Mapped[ClientRegistration | None] = relationship(cascade="all, delete-orphan")
    backchannel_logout: Mapped[BackchannelLogoutUri | None] = relationship(
        cascade="all, delete-orphan"
    )
    authentication: Mapped[ClientAuthentication | None] = relationship(cascade="all, delete-orphan")

    @property
    def is_public(self) -> bool:
        """Whether the client has no secret (and authenticates with `none`)."""
        return self.registration is not None and self.registration.public

    @property
    def allows_implicit(self) -> bool:
        """Whether the client was registered for the legacy implicit grant lab."""
        return self.registration is not None and self.registration.legacy_implicit

    @property
    def registered_via(self) -> str:
        """Where the registration came from; clients older than the record came from config."""
        return self.registration.registered_via if self.registration else FROM_CONFIGURATION

    @property
    def auth_methods(self) -> tuple[str, ...]:
        """The token endpoint authentication methods this client may use: `none` for a public
        client, the one it registered, or (registered before methods were recorded) its secret
        in either place.
        """
        if self.is_public:
            return (NO_AUTH_METHOD,)
        if self.authentication is not None:
            return (self.authentication.method,)
        return SECRET_AUTH_METHODS

    @property
    def token_endpoint_auth_method(self) -> str:
        """The registered method, as RFC 7591 names it (`client_secret_basic` for older ones)."""
        return self.auth_methods[0]

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        """Where this client may ask to send the person after RP-initiated logout."""
        return [row.uri for row in self.post_logout_redirects]

    @property
    def backchannel_logout_uri(self) -> str | None:
        """Where the provider POSTs logout tokens when a session this client took part in ends."""
        return self.backchannel_logout.uri if self.backchannel_logout else None

    def check_post_logout_redirect_uri(self, uri: str) -> bool:
        """Exact string match only, as for redirect URIs: anything looser is an open redirect."""
        return uri in self.post_logout_redirect_uris

    def get_client_id(self) -> str:
        """The client identifier."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """No default: OpenID Connect requires every request to name its redirect URI."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scope if this client may ask for all of it, else None (invalid_scope)."""
        requested = scope_to_list(scope) or []
        allowed = set(scope_to_list(self.scope) or [])
        if not requested or not set(requested) <= allowed:
            return None
        return list_to_scope(list(dict.fromkeys(requested)))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match only: prefix or pattern matching is how codes get stolen."""
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Compare in constant time, against the stored digest; a public client has no secret."""
        if self.is_public:
            return False
        return hmac.compare_digest(digest(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """A confidential client must prove itself with its secret (Basic header or form body) or
        its key, whichever it registered: accepting `none` from it would let anyone who knows its
        public client_id redeem its codes with a stolen PKCE pair, or refresh its tokens. A
        public client has only `none`.
        """
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        """The authorization code flow, and the implicit `token` only for lab clients (the
        authorization server offers `token` at all only when the lab is switched on).
        """
        return response_type == "code" or (response_type == "token" and self.allows_implicit)

    def check_grant_type(self, grant_type: str) -> bool:
        """The code grant and refreshing what it issued; nothing else."""
        return grant_type in ("authorization_code", "refresh_token")


class PostLogoutRedirectUri(db.Model):
    """One registered post-logout redirect URI of a client (OIDC RP-Initiated Logout 1.0).

    A table of its own rather than a column on the client, so that a provider database created
    before logout existed gains it through `create_all()` (the demo provider has no migrations).
    """

    __tablename__ = f"{PREFIX}post_logout_redirect_uri"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id), index=True)
    uri: Mapped[str] = mapped_column(Text)


class ClientRegistration(db.Model):
    """How a client was registered: public or confidential, whether it may use the legacy
    implicit grant, and where the registration came from (configuration, the `clients register`
    command, the implicit lab).

    A table of its own for the same reason as post-logout redirect URIs: a provider database
    created before these existed gains it through `create_all()`. A client without a row is a
    confidential one from the configuration, which is all there was then.
    """

    __tablename__ = f"{PREFIX}client_registration"

    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id), primary_key=True)
    public: Mapped[bool] = mapped_column(default=False)
    legacy_implicit: Mapped[bool] = mapped_column(default=False)
    registered_via: Mapped[str] = mapped_column(String(32), default=FROM_CONFIGURATION)
    registered_at: Mapped[int] = mapped_column(default=epoch_now)


class BackchannelLogoutUri(db.Model):
    """A client's back-channel logout URI (OIDC Back-Channel Logout 1.0 `backchannel_logout_uri`),
    at most one per client.

    A table of its own for the same reason as post-logout redirect URIs: a provider database
    created before back-channel logout existed gains it through `create_all()`.
    """

    __tablename__ = f"{PREFIX}backchannel_logout_uri"

    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id), primary_key=True)
    uri: Mapped[str] = mapped_column(Text)


class ClientAuthentication(db.Model):
    """How a client registered to authenticate at the token, PAR and revocation endpoints
    (RFC 7591 `token_endpoint_auth_method`) and, for `private_key_jwt`, the public keys its
    assertions are checked with: inline (`jwks`) or fetched from its `jwks_uri`.

    A table of its own for the same reason as post-logout redirect URIs: a provider database
    created before these existed gains it through `create_all()`. A confidential client without
    a row uses its secret, in the Basic header or the form, as all of them did then.
    """

    __tablename__ = f"{PREFIX}client_authentication"

    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id), primary_key=True)
    method: Mapped[str] = mapped_column(String(32))
    jwks: Mapped[dict | None] = mapped_column(JSON, default=None)
    jwks_uri: Mapped[str | None] = mapped_column(Text, default=None)


class Grant(db.Model):
    """One person's consent to one client: every code and token issued from it shares its id,
    so that a replayed code or refresh token can revoke the whole family at once.
    """

    __tablename__ = f"{PREFIX}grant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_grant_id)
    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id))
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[int]
    created_at: Mapped[int] = mapped_column(default=epoch_now)
    revoked_at: Mapped[int | None] = mapped_column(default=None)

    def revoke(self) -> None:
        """Revoke this grant and every token descended from it, and commit."""
        revoke_grants(Grant.id == self.id)
        db.session.refresh(self)

    def narrow(self, scope: str | None) -> str:
        """`scope` without what this grant no longer allows.

        The grant's scope is the ceiling of every code and token descended from it: when the
        person takes a scope back (connected applications), narrowing the grant narrows them all
        at once, a token being issued at that very moment included, with nothing else to update.
        """
        allowed = set(scope_to_list(self.scope) or [])
        return list_to_scope([name for name in scope_to_list(scope) or [] if name in allowed])


def revoke_grants(*criteria: ColumnElement[bool]) -> int:
    """Revoke every grant matching `criteria` and every code and token descended from them, and
    commit; returns how many grants were still live. Codes need nothing of their own: a code of
    a revoked grant is never redeemed.
    """
    now = epoch_now()
    matching = select(Grant.id).where(*criteria)
    revoked = db.session.execute(
        update(Grant)
        .where(*criteria, Grant.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Token)
        .where(Token.grant_id.in_(matching), Token.access_revoked_at.is_(None))
        .values(access_revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Token)
        .where(Token.grant_id.in_(matching), Token.refresh_revoked_at.is_(None))
        .values(refresh_revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return revoked.rowcount


class AuthorizationCode(db.Model, AuthorizationCodeMixin):
    """A one-time code, bound to its client, redirect URI, PKCE challenge and nonce."""

    __tablename__ = f"{PREFIX}authorization_code"

    LIFETIME = 60

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey(Grant.id))
    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id))
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, default=None)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[int] = mapped_column(default=epoch_now)
    used_at: Mapped[int | None] = mapped_column(default=None)

    grant: Mapped[Grant] = relationship()
    dpop_binding: Mapped[CodeDpopBinding | None] = relationship(cascade="all, delete-orphan")

    @property
    def dpop_jkt(self) -> str | None:
        """The thumbprint of the DPoP key the authorization request named (`dpop_jkt`), if any."""
        return self.dpop_binding.jkt if self.dpop_binding else None

    @classmethod
    def find(cls, code: str) -> AuthorizationCode | None:
        """The code row for this code string, if any."""
        return db.session.scalar(select(cls).where(cls.code_hash == digest(code)))

    @classmethod
    def nonce_seen(cls, client_id: str, nonce: str) -> bool:
        """Whether this client already used this nonce (a replayed authorization request)."""
        query = select(cls.id).where(cls.client_id == client_id, cls.nonce == nonce).limit(1)
        return db.session.scalar(query) is not None

    def is_expired(self) -> bool:
        """Codes live one minute: long enough for a redirect, too short to be worth stealing."""
        return epoch_now() > self.created_at + self.LIFETIME

    def redeem(self) -> bool:
        """Mark the code used; True only for the first caller, even under concurrent requests."""
        result = db.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == self.id, AuthorizationCode.used_at.is_(None))
            .values(used_at=epoch_now())
        )
        db.session.commit()
        return result.rowcount == 1

    def get_redirect_uri(self) -> str:
        """The redirect URI of the authorization request; the token request must repeat it."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The granted scope, as far as the grant still allows it."""
        return self.grant.narrow(self.scope)

    def get_nonce(self) -> str | None:
        """The nonce to echo in the ID token."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the person last signed in at the provider."""
        return self.grant.auth_time


class Token(db.Model, TokenMixin):
    """An access token and, when offline access was granted, its refresh token."""

    __tablename__ = f"{PREFIX}token"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey(Grant.id), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id))
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id))
    scope: Mapped[str] = mapped_column(Text)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    issued_at: Mapped[int] = mapped_column(default=epoch_now)
    expires_in: Mapped[int]
    access_revoked_at: Mapped[int | None] = mapped_column(default=None)
    # Set when the refresh token is rotated (retired) or revoked.
    refresh_revoked_at: Mapped[int | None] = mapped_column(default=None)

    grant: Mapped[Grant] = relationship()
    user: Mapped[User] = relationship()
    dpop_binding: Mapped[TokenDpopBinding | None] = relationship(cascade="all, delete-orphan")

    @property
    def dpop_jkt(self) -> str | None:
        """The thumbprint of the DPoP key both tokens of this row are bound to, if any."""
        return self.dpop_binding.jkt if self.dpop_binding else None

    @classmethod
    def find_by_access_token(cls, access_token: str) -> Token | None:
        """The row holding this access token, if any, with what every API call checks or reads
        (its grant, its DPoP binding, its user) loaded in the same query rather than one each."""
        return db.session.scalar(
            select(cls)
            .options(joinedload(cls.grant), joinedload(cls.dpop_binding), joinedload(cls.user))
            .where(cls.access_token_hash == digest(access_token))
        )

    @classmethod
    def find_by_refresh_token(cls, refresh_token: str) -> Token | None:
        """The row holding this refresh token, if any."""
        query = select(cls).where(cls.refresh_token_hash == digest(refresh_token))
        return db.session.scalar(query)

    def holds_refresh_token(self, value: str) -> bool:
        """Whether `value` is this row's refresh token (rather than its access token)."""
        return self.refresh_token_hash is not None and hmac.compare_digest(
            digest(value), self.refresh_token_hash
        )

    def retire_refresh_token(self) -> bool:
        """Retire the refresh token after rotation; True only for the first caller."""
        result = db.session.execute(
            update(Token)
            .where(Token.id == self.id, Token.refresh_revoked_at.is_(None))
            .values(refresh_revoked_at=epoch_now())
        )
        db.session.commit()
        return result.rowcount == 1

    def revoke_access_token(self) -> None:
        """Revoke the access token only, and commit."""
        self.access_revoked_at = self.access_revoked_at or epoch_now()
        db.session.commit()

    def refresh_token_expired(self, lifetime: int) -> bool:
        """Whether the grant is older than the refresh tokens' absolute lifetime.

        The clock starts at consent, not at the last rotation, so rotating forever cannot keep a
        grant alive forever.
        """
        return epoch_now() > self.grant.created_at + lifetime

    def check_client(self, client: ClientMixin) -> bool:
        """Whether the token was issued to `client`."""
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        """The access token's scope, as far as its grant still allows it (`scope` keeps what was
        issued).
        """
        return self.grant.narrow(self.scope)

    def get_expires_in(self) -> int:
        """The access token's lifetime in seconds."""
        return self.expires_in

    def is_expired(self) -> bool:
        """Whether the access token's lifetime has passed."""
        return epoch_now() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        """Whether the access token, or the grant it came from, was revoked."""
        return self.access_revoked_at is not None or self.grant.revoked_at is not None

    def get_user(self) -> User:
        """The resource owner."""
        return self.user

    def get_client(self) -> Client | None:
        """The client the token was issued to."""
        return db.session.get(Client, self.client_id)


class GrantSession(db.Model):
    """The provider sign-in session (`sid`) a grant was given in, so that every ID token issued
    from the grant, at code exchange and on refresh, names that session.

    A table of its own rather than a column on grants or codes, so that a database created
    before sessions had ids gains it through `create_all()`; grants from then have no row and
    their ID tokens no `sid`.
    """

    __tablename__ = f"{PREFIX}grant_session"

    grant_id: Mapped[str] = mapped_column(ForeignKey(Grant.id), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)

    grant: Mapped[Grant] = relationship()


class SessionParticipant(db.Model):
    """A client that received an ID token in one provider sign-in session, for one person: who
    gets a logout token when that session ends (OIDC Back-Channel Logout 1.0 section 2.7). Two
    code exchanges racing in one session may both write a row; readers take each client once.
    """

    __tablename__ = f"{PREFIX}session_participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id))
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id), index=True)
    created_at: Mapped[int] = mapped_column(default=epoch_now)


class CodeDpopBinding(db.Model):
    """The DPoP key an authorization request named with `dpop_jkt` (RFC 9449 section 10): the
    code is redeemed only with a proof signed by that key, so a code stolen from the redirect is
    worth nothing without the client's private key.

    Tables of their own for DPoP bindings, so that a database created before DPoP gains them
    through `create_all()`; codes and tokens without a row are not bound.
    """

    __tablename__ = f"{PREFIX}authorization_code_dpop_binding"

    code_id: Mapped[int] = mapped_column(ForeignKey(AuthorizationCode.id), primary_key=True)
    # The base64url SHA-256 JWK thumbprint (RFC 7638), 43 characters.
    jkt: Mapped[str] = mapped_column(String(64))


class TokenDpopBinding(db.Model):
    """The DPoP key an access token and its refresh token are bound to (RFC 9449 section 6,
    `cnf.jkt`): each use must come with a fresh proof signed by that key.
    """

    __tablename__ = f"{PREFIX}token_dpop_binding"

    token_id: Mapped[int] = mapped_column(ForeignKey(Token.id), primary_key=True)
    jkt: Mapped[str] = mapped_column(String(64))


class PushedAuthorizationRequest(db.Model):
    """An authorization request a client pushed to the PAR endpoint (RFC 9126), waiting to be
    named by its `request_uri` at the authorization endpoint. Only the URI's digest is stored,
    as for codes. `opened_at` is when a browser first brought it to the authorization endpoint;
    `used_at` when the person decided (the request is then spent).
    """

    __tablename__ = f"{PREFIX}pushed_authorization_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_uri_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey(Client.client_id), index=True)
    # [[name, value], ...]: the pushed form as sent, repeated names included.
    parameters: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(default=epoch_now)
    expires_at: Mapped[int] = mapped_column(index=True)
    opened_at: Mapped[int | None] = mapped_column(default=None)
    used_at: Mapped[int | None] = mapped_column(default=None)


class UsedJwtId(db.Model):
    """A JWT id (`jti`) already accepted, kept until the JWT it came in has expired: client
    assertions (RFC 7523 section 3) and DPoP proofs (RFC 9449 section 11.1) are accepted once,
    so a copy captured on the way is worth nothing. Keyed by the digest of the kind of JWT, its
    issuer or target, and the jti, so that different clients' ids never collide.
    """

    __tablename__ = f"{PREFIX}used_jwt_id"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(index=True)
