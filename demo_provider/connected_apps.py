"""A person's connected applications: the clients that hold live tokens from their consent (what
each may do, when it was allowed, when it last got a token, which DPoP keys its tokens are bound
to); taking one scope back from a client, which narrows its grants; and revoking one, which ends
every grant of that person to that client and tells the client over the back channel. The pages
are in `views.py`; the consent page asks here what a client already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from authlib.oauth2.rfc6749 import list_to_scope, scope_to_list
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update

from demo_provider import backchannel, models, scopes
from demo_provider.extensions import db
from demo_provider.models import Client, Grant, Token, TokenDpopBinding, User


@dataclass(frozen=True)
class Connection:
    """One client the person allowed, summed over every live grant they gave it."""

    client_id: str
    client_name: str
    # (scope, plain words), worded as on the consent page.
    scopes: list[tuple[str, str]]
    # The most recent consent.
    granted_at: datetime
    # When a token was last issued: at sign-in, or when the client last refreshed.
    last_token_at: datetime | None
    # The `cnf.jkt` thumbprints of the DPoP keys its live tokens are bound to (RFC 9449): a
    # copy of such a token is useless without the private key.
    dpop_jkts: tuple[str, ...] = ()

    @property
    def removable_scopes(self) -> set[str]:
        """The scopes the person may take back one by one (all but `openid`)."""
        return {name for name, _ in self.scopes if scopes.is_optional(name)}


def _usable_token(refresh_token_lifetime: int) -> ColumnElement[bool]:
    """A token row that still works: an unexpired, unrevoked access token, or a current refresh
    token within its grant's absolute lifetime.
    """
    now = models.epoch_now()
    usable_refresh_token = and_(
        Token.refresh_token_hash.is_not(None),
        Token.refresh_revoked_at.is_(None),
        Grant.created_at + refresh_token_lifetime >= now,
    )
    usable_access_token = and_(
        Token.access_revoked_at.is_(None), Token.issued_at + Token.expires_in > now
    )
    return or_(usable_refresh_token, usable_access_token)


def _live_grant(refresh_token_lifetime: int) -> ColumnElement[bool]:
    """A grant that is not revoked and has a token that still works (see `_usable_token`)."""
    usable = exists().where(Token.grant_id == Grant.id, _usable_token(refresh_token_lifetime))
    return and_(Grant.revoked_at.is_(None), usable)


def for_user(user_id: int, refresh_token_lifetime: int) -> list[Connection]:
    """The clients holding a usable token from this person's consent, by name.

    A grant counts while it is not revoked and one of its tokens still works: an unexpired
    access token, or a current refresh token within the grant's absolute lifetime. Consents whose
    tokens have all run out are left off, since revoking them would change nothing.
    """
    last_issued = select(func.max(Token.issued_at)).where(Token.grant_id == Grant.id)
    rows = db.session.execute(
        select(Grant, Client.client_name, last_issued.scalar_subquery())
        .join(Client, Client.client_id == Grant.client_id)
        .where(Grant.user_id == user_id, _live_grant(refresh_token_lifetime))
        .order_by(Grant.created_at)
    )

    bound = db.session.execute(
        select(Grant.client_id, TokenDpopBinding.jkt)
        .join(Token, Token.id == TokenDpopBinding.token_id)
        .join(Grant, Grant.id == Token.grant_id)
        .where(
            Grant.user_id == user_id,
            Grant.revoked_at.is_(None),
            _usable_token(refresh_token_lifetime),
        )
    )
    jkts: dict[str, list[str]] = {}
    for client_id, jkt in bound:
        jkts.setdefault(client_id, []).append(jkt)

    summaries: dict[str, dict] = {}
    for grant, client_name, last_token_at in rows:
        summary = summaries.setdefault(
            grant.client_id, {"client_name": client_name, "scope": [], "granted": 0, "last": 0}
        )
        summary["scope"].extend(grant.scope.split())
        summary["granted"] = max(summary["granted"], grant.created_at)
        summary["last"] = max(summary["last"], last_token_at or 0)
    connections = [
        Connection(
            client_id=client_id,
            client_name=summary["client_name"],
            scopes=scopes.describe(" ".join(dict.fromkeys(summary["scope"]))),
            granted_at=_moment(summary["granted"]),
            last_token_at=_moment(summary["last"]) if summary["last"] else None,
            dpop_jkts=tuple(dict.fromkeys(jkts.get(client_id, []))),
        )
        for client_id, summary in summaries.items()
    ]
    return sorted(connections, key=lambda connection: connection.client_name.lower())


def granted_scopes(user_id: int, client_id: str, refresh_token_lifetime: int) -> list[str]:
    """Every scope this person allowed this client in a grant that is still live (as the list
    of connected applications counts them), in the order they were first allowed.
    """
    rows = db.session.scalars(
        select(Grant.scope)
        .where(
            Grant.user_id == user_id,
            Grant.client_id == client_id,
            _live_grant(refresh_token_lifetime),
        )
        .order_by(Grant.created_at)
    )
    return list(dict.fromkeys(name for scope in rows for name in scope_to_list(scope) or []))


def take_back(user_id: int, client_id: str, scope: str) -> str | None:
    """Take one scope back from every grant this person gave this client, and commit; returns
    the client's name, or None when no grant of theirs to it holds that scope (so nobody learns
    about someone else's grants). `openid` is never taken back alone: revoke the application.

    Narrowing the grant narrows its codes and tokens too (`Grant.narrow`): the access tokens the
    client holds stop carrying the scope at once, and its next refresh answers the narrower
    scope. Taking back `offline_access` also forgets the grant's refresh tokens, which exist
    only by that consent: they become unknown (`invalid_grant`), and the grant lives on only
    until its access tokens expire. A grant left with no scope at all allows nothing and is
    revoked.
    """
    if not scopes.is_optional(scope):
        return None
    client = db.session.get(Client, client_id)
    unrevoked = db.session.scalars(
        select(Grant).where(
            Grant.user_id == user_id, Grant.client_id == client_id, Grant.revoked_at.is_(None)
        )
    )
    holding = [grant for grant in unrevoked if scope in (scope_to_list(grant.scope) or [])]
    if client is None or not holding:
        return None
    emptied = []
    for grant in holding:
        grant.scope = list_to_scope([name for name in scope_to_list(grant.scope) if name != scope])
        if not grant.scope:
            emptied.append(grant.id)
    if scope == scopes.OFFLINE_ACCESS:
        db.session.execute(
            update(Token)
            .where(Token.grant_id.in_([grant.id for grant in holding]))
            .values(refresh_token_hash=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if emptied:
        models.revoke_grants(Grant.id.in_(emptied))
    return client.client_name


def revoke(user_id: int, client_id: str) -> str | None:
    """End every grant this person gave this client, with all its access and refresh tokens,
    and return the client's name (also when they were already revoked: a second click is not an
    error); None when the person never gave it any, so nobody can revoke, or learn about,
    someone else's grants.

    A client that registered a back-channel logout URI is told at once, with a logout token
    for this person (see `backchannel.grants_revoked`), and can end their sessions there. Any
    client also learns it at its next call: the API answers 401 and a refresh `invalid_grant`,
    which is when a client shows "reconnect needed" and sends the person to consent again.
    """
    client = db.session.get(Client, client_id)
    owned = select(Grant.id).where(Grant.user_id == user_id, Grant.client_id == client_id)
    if client is None or db.session.scalar(owned.limit(1)) is None:
        return None
    client_name = client.client_name
    models.revoke_grants(Grant.user_id == user_id, Grant.client_id == client_id)
    backchannel.grants_revoked(db.session.get(User, user_id), client_id)
    return client_name


def _moment(epoch_seconds: int) -> datetime:
    """An epoch timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_seconds, UTC)
