"""What a feature page can show for a link: the data from the provider's API when the grant
covers the feature's scope, and otherwise why not (a permission to ask for, one the person
declined, a sign-in to renew) instead of a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import oauth
from accounts import provider_calls, scopes, tokens
from accounts.users import link_of
from extensions import db
from models import LinkedAccount, User

# What a feature page can be in, each with its own panel.
READY = "ready"
#: The link lacks the scope: ask for it (one button).
NEEDS_PERMISSION = "needs_permission"
#: The person was asked and said no (or took it back): the feature is unavailable, and they may
#: ask again.
DECLINED = "declined"
#: The API wants a fresher or stronger sign-in (RFC 9470).
STEP_UP = "step_up"
NOT_LINKED = "not_linked"
RECONNECT = "reconnect_needed"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class FeatureView:
    """What the feature page shows: `status` (one of the states above) and what goes with it."""

    status: str
    data: Any = None
    #: The scopes the feature needs and the link lacks.
    missing: tuple[str, ...] = ()
    message: str | None = None
    #: For STEP_UP: the authentication context classes the API asked for, if any.
    acr_values: str | None = None


def load(user: User, provider: oauth.Provider, feature: oauth.Feature) -> FeatureView:
    """The feature's data for the user's link to `provider`, or the reason there is none."""
    link = link_of(user, provider.name)
    if link is None:
        return FeatureView(NOT_LINKED)
    missing = scopes.missing(link, feature.scope)
    if missing:
        return _without(link, missing)
    try:
        data = provider_calls.call(
            link,
            lambda access_token, key: oauth.fetch_resource(
                provider, feature.endpoint, access_token, key
            ),
        )
    except oauth.InsufficientScope as error:
        # The provider narrowed the grant since (the person took a scope back there): the
        # record follows, and the page asks again rather than failing.
        scopes.lost(link, error.scopes or scopes.split(feature.scope))
        db.session.commit()
        return _without(link, scopes.missing(link, feature.scope) or scopes.split(feature.scope))
    except oauth.StepUpRequired as error:
        return FeatureView(STEP_UP, message=error.message, acr_values=error.acr_values)
    except tokens.LinkRemoved:
        return FeatureView(NOT_LINKED)
    except tokens.ReconnectNeeded:
        return FeatureView(RECONNECT, message=f"{provider.title} needs you to reconnect.")
    except oauth.ProviderError as error:
        return FeatureView(UNAVAILABLE, message=f"{error.message} {error.advice}")
    return FeatureView(READY, data=data)


def _without(link: LinkedAccount, missing: list[str]) -> FeatureView:
    declined = set(scopes.declined(link))
    status = DECLINED if all(name in declined for name in missing) else NEEDS_PERMISSION
    return FeatureView(status, missing=tuple(missing))
