"""The profile page: the signed-in user and, for each linked provider, live data from its API."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

import linked_profiles

bp = Blueprint("profile", __name__)


@bp.get("/profile")
@login_required
def show():
    return render_template(
        "profile/show.html", user=current_user, links=linked_profiles.for_user(current_user)
    )
