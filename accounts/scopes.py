"""What each link may do at its provider: the scopes granted (what the tokens cover, which is what
the pages go by) against the scopes requested (what the person was asked for), so that a scope
the person unticked, took back later, or lost in a refresh shows as declined instead of failing.

Granted is not requested. RFC 6749 §3.3 lets a provider grant less than was asked, and says so
in the token response's `scope`; only when `scope` is omitted is the grant "as requested". A
refresh that answers with fewer scopes (down-scoping) narrows the record, and is not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import providers
from accounts import signals
from models import LinkedAccount


def split(scope: str | None) -> list[str]:
    """A space-separated scope as a list, in order, without repeats."""
    return list(dict.fromkeys((scope or "").split()))


def join(*scopes: Iterable[str] | str | None) -> str:
    """The union of scopes (lists or space-separated strings), space-separated, first seen first."""
    names: list[str] = []
    for scope in scopes:
        names.extend(split(scope) if isinstance(scope, str) or scope is None else scope)
    return " ".join(dict.fromkeys(names))


def granted(link: LinkedAccount) -> list[str]:
    return split(link.scope)


def requested(link: LinkedAccount) -> list[str]:
    """What the person was asked for; what was granted for links older than the record."""
    return split(link.requested_scope) if link.requested_scope is not None else granted(link)


def declined(link: LinkedAccount) -> list[str]:
    """Asked for and not granted: unticked at consent, refused, or taken back since."""
    return _not_granted(link, requested(link))


def missing(link: LinkedAccount, needed: str) -> list[str]:
    """The scopes of `needed` that the link's tokens do not cover."""
    return _not_granted(link, split(needed))


def _not_granted(link: LinkedAccount, names: Iterable[str]) -> list[str]:
    have = set(granted(link))
    return [name for name in names if name not in have]


def record(
    link: LinkedAccount,
    token: Mapping[str, Any],
    *,
    requested: str | None = None,
    combined: bool = False,
) -> None:
    """Update the link's record from a token response.

    `requested` is what the authorization request asked for (None for a refresh, which asks for
    nothing new). `combined` is set when the request asked the provider to include the scopes
    granted before (`include_granted_scopes`): its grant covers them too, even if its `scope`
    names only the new ones. Nothing else is ever added: the record never invents a scope.
    """
    before = link.scope
    answered = token.get("scope")
    if answered:
        granted_now = _normalized(link.provider, str(answered))
        link.scope = join(link.scope, granted_now) if combined else granted_now
    elif requested is not None:
        # RFC 6749 §5.1: an omitted scope means the scope granted is the one requested.
        link.scope = join(link.scope, requested) if combined else join(requested)
    if requested is not None:
        link.requested_scope = join(requested)
    _announce_change(link, before)


def lost(link: LinkedAccount, names: Iterable[str]) -> None:
    """The provider's API says the token lacks these scopes (RFC 6750 `insufficient_scope`): the
    grant was narrowed at the provider (the person took them back), so the record follows."""
    gone = set(names)
    before = link.scope
    link.scope = join([name for name in granted(link) if name not in gone])
    _announce_change(link, before)


def _announce_change(link: LinkedAccount, before: str | None) -> None:
    """Tell the listeners (the flow inspector) when the granted scopes moved from `before`."""
    if before != link.scope and signals.scopes_changed.heard():
        signals.scopes_changed.announce(
            provider=link.provider,
            before=tuple(split(before)),
            after=tuple(split(link.scope)),
            requested=tuple(requested(link)),
        )


def _normalized(provider_name: str, scope: str) -> str:
    """The granted scopes, space-separated whatever separator the provider uses (GitHub: a
    comma), each under the name it was asked for by."""
    provider = providers.get(provider_name)
    if provider is None:
        return join(scope)
    names = scope.replace(provider.granted_scope_separator, " ").split()
    return join([provider.scope_aliases.get(name, name) for name in names])
