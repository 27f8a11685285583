"""Feature pages: what this app does with a provider's API beyond sign-in (the demo provider's
contacts, say), each behind a scope of its own that is asked for only when the page is opened.
The page shows the data, or why there is none, with the one button that would change that.
"""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required

from accounts import features
from blueprints import irreversible, sign_in_start
from blueprints.permissions import feature_or_404
from extensions import limiter
from oauth.challenges import NQCHAR

bp = Blueprint("features", __name__)

# What a page that renders fine answers with, per state: the data, or a reason and a button.
STATUS_CODES = {features.READY: 200, features.UNAVAILABLE: 502}
# acr values go back to the provider in an authorization request: scope-like tokens only.
_ACR_VALUES = re.compile(rf"{NQCHAR}{{1,128}}( {NQCHAR}{{1,128}}){{0,7}}")


@bp.get("/features/<provider_name>/<feature_name>")
@login_required
def show(provider_name: str, feature_name: str):
    provider, feature = feature_or_404(provider_name, feature_name)
    view = features.load(current_user, provider, feature)
    page = render_template(
        "features/show.html", provider=provider, feature=feature, view=view, states=features
    )
    # Data from the provider's API about this person: never kept by a shared cache.
    return page, STATUS_CODES.get(view.status, 200), {"Cache-Control": "no-store"}


@bp.post("/features/<provider_name>/<feature_name>/sign-in-again")
@login_required
@limiter.limit(sign_in_start.rate_limit)
def sign_in_again(provider_name: str, feature_name: str):
    """The API asked for a fresher sign-in (RFC 9470): prove who you are, then come back."""
    provider, feature = feature_or_404(provider_name, feature_name)
    acr_values = request.form.get("acr_values", "")
    return irreversible.step_up(
        provider,
        next_url=url_for("features.show", provider_name=provider.name, feature_name=feature.name),
        acr_values=acr_values if _ACR_VALUES.fullmatch(acr_values) else None,
    )
