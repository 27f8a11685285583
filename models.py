"""Database models of the client: users, their sessions, the provider identities linked to them
with their encrypted tokens, the short-lived sign-in attempts that carry state, nonce and PKCE
verifier, and the logout tokens already accepted.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

from extensions import db


def utcnow() -> datetime:
    """Current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that always comes back aware and in UTC, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite keeps no zone: the value was stored in UTC, so mark it as such.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(UserMixin, db.Model):
    """A person of this app. They sign in through any of their linked provider identities."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    linked_accounts: Mapped[list[LinkedAccount]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        order_by="LinkedAccount.created_at",
    )
    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    #: The UserSession a sign-in just started, set by `accounts.sessions.start` for the rest of
    #: that request (not a column: one user has many sessions). Later requests read the user as
    #: a snapshot with its session (`accounts.signed_in`).
    current_session = None

    def get_id(self) -> str | None:
        """What Flask-Login keeps in the session cookie: the key of the current session."""
        return self.current_session.key if self.current_session else None


class SessionEnd:
    """Values of `UserSession.end_reason`: who or what ended a session."""

    SIGNED_OUT = "signed_out"
    # From another of the user's sessions ("sign out this session", "sign out all others").
    SIGNED_OUT_ELSEWHERE = "signed_out_elsewhere"
    # By the provider, with a back-channel logout token.
    PROVIDER = "provider"


class UserSession(db.Model):
    """One signed-in browser: the session cookie names it by `key`; ending it signs that browser
    out, and every copy of its cookie with it (a signed cookie cannot be recalled, its row can).

    `provider`, `subject` and `sid` say which provider session it came from, so that the provider
    can end it with a back-channel logout token (by `sid`, or every session of `subject`).
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A random value only the browser's (signed) cookie holds besides this row.
    key: Mapped[str] = mapped_column(
        String(64), unique=True, default=lambda: secrets.token_urlsafe(32)
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255))
    sid: Mapped[str | None] = mapped_column(String(255))
    #: A short description of the browser ("Firefox on Linux"), for the sessions page.
    browser: Mapped[str] = mapped_column(String(100), default="")
    #: When the person last proved who they are at the provider (the ID token's auth_time, else
    #: the sign-in's own time): re-authentication before irreversible actions reads it.
    authenticated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship(back_populates="sessions")

    __table_args__ = (
        Index("ix_user_sessions_provider_sid", "provider", "sid"),
        Index("ix_user_sessions_provider_subject", "provider", "subject"),
    )


class AcceptedLogoutToken(db.Model):
    """A back-channel logout token already acted on, by issuer and `jti`: the same token is never
    accepted twice, on any instance or worker. Rows are kept until the token's own expiry (or a
    bound the app sets when it has none) and then purged."""

    __tablename__ = "accepted_logout_tokens"

    issuer: Mapped[str] = mapped_column(String(2048), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LinkStatus:
    """Values of `LinkedAccount.status`."""

    CONNECTED = "connected"
    # The provider refused our refresh token (revoked, expired, reused): the user must run the
    # authorization flow again to give us a new grant.
    RECONNECT_NEEDED = "reconnect_needed"


class LinkedAccount(db.Model):
    """One provider identity `(provider, subject)` linked to a user, with that grant's tokens.

    Identity is the provider's stable subject identifier, never an e-mail address: e-mail
    addresses change hands and some providers do not verify them.
    """

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("provider", "subject", name="uq_linked_accounts_provider_subject"),
        UniqueConstraint("user_id", "provider", name="uq_linked_accounts_user_provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    issuer: Mapped[str | None] = mapped_column(String(2048))
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    #: The scopes granted, space-separated: what the tokens cover, and what the pages offer.
    scope: Mapped[str | None] = mapped_column(Text)
    #: The scopes asked for (at sign-in, and later for a feature): beside `scope`, what the
    #: person declined. None for links made before it was recorded.
    requested_scope: Mapped[str | None] = mapped_column(Text)

    # Fernet ciphertexts (see accounts/tokens.py): a leaked database or backup reveals no usable
    # token.
    access_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The private JWK that this link's DPoP-bound tokens need for every use (RFC 9449),
    #: encrypted like them; None for bearer tokens.
    dpop_key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)

    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How long the access token was issued for (`expires_in`), in seconds: a short-lived token
    #: is refreshed with a proportionally shorter leeway.
    access_token_lifetime: Mapped[int | None]
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32), default=LinkStatus.CONNECTED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="linked_accounts")


class LoginAttempt(db.Model):
    """A sign-in started in one browser and not yet finished: kept server-side, used once.

    The row is keyed by a digest of `state`; the browser's session holds the same digest, so a
    callback only completes in the browser that started it (login CSRF) and only once (replay).
    """

    __tablename__ = "login_attempts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    #: The DPoP key made for this sign-in (its thumbprint went out as `dpop_jkt`), encrypted.
    dpop_key_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    next_url: Mapped[str | None] = mapped_column(String(2048))
    # Set when a signed-in user links another provider or proves who they are again; the
    # callback must run as that user.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The irreversible action a re-authentication was asked for ("delete_account",
    #: "unlink:<provider>"): kept here, never in the URL, and carried out only once the person
    #: has proven who they are.
    action: Mapped[str | None] = mapped_column(String(100))
    #: The scopes this sign-in asks for: the grant's scope when the provider does not say.
    scope: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
