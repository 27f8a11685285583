"""What the consent page asks and what the person's answer grants (granular consent): `openid`
is fixed, every other requested scope has its own checkbox, and with `include_granted_scopes`
(incremental authorization, as Google has it) the scopes the person already allowed this client
are carried into the new grant without being asked about again. The pages are in `views.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import list_to_scope, scope_to_list

from demo_provider import connected_apps, scopes

# The consent form's field for each ticked scope. Not an OAuth parameter, so it cannot be mistaken
# for one of the request's own fields, which travel beside it as hidden fields; a client that
# sends one in its request has it dropped (`views._CONSENT_FIELDS`), so it cannot tick boxes for
# the person.
GRANTED_FIELD = "granted_scope"
# The authorization request parameter asking for the new grant to include earlier ones.
INCLUDE_GRANTED_SCOPES = "include_granted_scopes"


@dataclass(frozen=True)
class Offer:
    """The consent page's question: what the person already allowed this client (carried over,
    not asked again), what comes with Allow regardless (`openid`), and what they may tick.
    """

    already_allowed: tuple[str, ...]
    fixed: tuple[str, ...]
    optional: tuple[str, ...]
    # The requested scopes, in request order, which order the granted scope follows.
    requested: tuple[str, ...]

    def granted_scope(self, ticked: Iterable[str]) -> str:
        """The scope Allow grants: what is fixed or already allowed, and each ticked box that the
        page offered. Anything else in the form (a scope never requested, garbage) is ignored:
        the form comes back from the browser, and only the person's choice among what the
        client asked for counts. Requested scopes first, in request order, then the carried ones.
        """
        chosen = set(ticked) & set(self.optional)
        kept = set(self.fixed) | set(self.already_allowed) | chosen
        granted = [name for name in self.requested if name in kept]
        granted += [name for name in self.already_allowed if name not in granted]
        return list_to_scope(granted)


def offer(
    requested_scope: str | None,
    parameters: Mapping[str, str],
    *,
    user_id: int,
    client_id: str,
    client_scope: str | None,
    refresh_token_lifetime: int,
) -> Offer:
    """What to ask this person about this validated request (`requested_scope` is the scope
    Authlib checked the client may ask for; `parameters` are the request's, pushed or not).
    """
    requested = tuple(scope_to_list(requested_scope) or [])
    carried: tuple[str, ...] = ()
    if parameters.get(INCLUDE_GRANTED_SCOPES) == "true":
        may_hold = set(scope_to_list(client_scope) or [])
        carried = tuple(
            name
            for name in connected_apps.granted_scopes(user_id, client_id, refresh_token_lifetime)
            # Only what the client may still ask for: its registration may have been narrowed
            # since. And `openid` only when asked for again: it brings an ID token, which is
            # about this sign-in and needs this request's nonce, not an earlier one's.
            if name in may_hold and (scopes.is_optional(name) or name in requested)
        )
    fixed = tuple(
        name for name in requested if not scopes.is_optional(name) and name not in carried
    )
    optional = tuple(name for name in requested if scopes.is_optional(name) and name not in carried)
    return Offer(already_allowed=carried, fixed=fixed, optional=optional, requested=requested)
