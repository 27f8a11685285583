"""The profile page: the signed-in user, each linked provider with live data from its API, and
the account's changes: link another provider, unlink one, delete the account (all POST + CSRF).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import accounts
import oauth
import providers
from accounts import linked_profiles, sessions, tokens
from blueprints import irreversible, sign_in_start
from extensions import limiter

bp = Blueprint("profile", __name__)


@bp.get("/profile")
@login_required
def show():
    # The user itself, not the `current_user` proxy: the page and its helpers read it many
    # times, and each read through the proxy looks the user up again.
    user = current_user._get_current_object()
    linked = {link.provider for link in user.linked_accounts}
    return render_template(
        "profile/show.html",
        user=user,
        links=linked_profiles.for_user(user),
        linkable=[p for p in providers.enabled() if p.name not in linked],
        sessions=sessions.active(user),
        current_session=user.current_session,
        provider_titles={provider.name: provider.title for provider in providers.enabled()},
    )


@bp.post("/profile/link/<provider_name>")
@login_required
@limiter.limit(sign_in_start.rate_limit)
def link(provider_name: str):
    """Connect another provider, or reconnect one whose grant ended."""
    provider = providers.get_or_404(provider_name)
    return sign_in_start.send_to_provider(provider, next_url=None, user_id=current_user.id)


@bp.post("/profile/refresh/<provider_name>")
@login_required
def refresh(provider_name: str):
    """Refresh the access token now (to watch a refresh happen, or after changing scopes)."""
    provider = providers.get(provider_name)
    title = provider.title if provider else provider_name
    link = accounts.link_of(current_user, provider_name)
    if link is None:
        if provider is None:
            abort(404)
        # Unlinked meanwhile (in another tab): say so on the profile rather than on an error page.
        flash(f"{title} is not linked to your account.", "info")
        return redirect(url_for("profile.show"), code=303)
    try:
        tokens.fresh_access_token(link, force_refresh=True, reason="You pressed Refresh now.")
    except tokens.LinkRemoved:
        flash(f"{title} is no longer linked to your account.", "info")
    except tokens.ReconnectNeeded:
        flash(f"{title} needs you to reconnect.", "error")
    except oauth.ProviderError as error:
        flash(f"{error.message} {error.advice}", "error")
    else:
        flash(f"Your {title} access token was refreshed.", "info")
    return redirect(url_for("profile.show"), code=303)


@bp.post("/profile/unlink/<provider_name>")
@login_required
def unlink(provider_name: str):
    action = irreversible.unlink_action(provider_name)
    if accounts.link_of(current_user, provider_name) is None:
        # Nothing to undo (unknown, or unlinked in another tab): said at once, no proof needed.
        return irreversible.carry_out(action)
    return irreversible.request_action(action)


@bp.post("/profile/delete")
@login_required
def delete():
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm that you want to delete your account.", "error")
        return redirect(url_for("profile.show"), code=303)
    return irreversible.request_action(irreversible.DELETE_ACCOUNT)
