"""Asking for more later (incremental authorization): a feature page that needs a scope the link
lacks offers one button; it sends the person to the provider asking for the union of what the
link has and what the feature needs, and the callback brings them back to the page that asked
with the grant widened, not replaced. Saying no there leaves the link exactly as it was.

The scope asked for is never read from the form: only a feature this app defines can be named,
so a forged POST can ask for nothing more than a button on one of its pages would.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required

import accounts
import oauth
import providers
from accounts import scopes
from blueprints import irreversible, sign_in_start
from extensions import db, limiter
from models import LoginAttempt
from ops import security_events

bp = Blueprint("permissions", __name__)


def feature_or_404(provider_name: str, feature_name: str) -> tuple[oauth.Provider, oauth.Feature]:
    provider = providers.get_or_404(provider_name)
    feature = provider.features.get(feature_name)
    if feature is None:
        abort(404)
    return provider, feature


@bp.post("/features/<provider_name>/<feature_name>/allow")
@login_required
@limiter.limit(sign_in_start.rate_limit)
def ask(provider_name: str, feature_name: str):
    """Send the person to the provider to allow what the feature needs."""
    provider, feature = feature_or_404(provider_name, feature_name)
    page = url_for("features.show", provider_name=provider.name, feature_name=feature.name)
    link = accounts.link_of(current_user, provider.name)
    if link is None:
        flash(f"Link {provider.title} first.", "info")
        return redirect(page, code=303)
    # The union (RFC 6749 §3.3 lets a provider grant less than asked, never more): a provider
    # that replaces the grant with the new request's scope keeps what it had. `openid` always,
    # for an OpenID provider: the callback checks who answered by the new ID token.
    sign_in = ["openid"] if provider.is_oidc else []
    wanted = scopes.join(sign_in, scopes.granted(link), feature.scope)
    security_events.emit(
        "grant", outcome="started", provider=provider.name, user_id=current_user.id
    )
    return sign_in_start.send_to_provider(
        provider,
        next_url=page,
        user_id=current_user.id,
        action=sign_in_start.GRANT_PREFIX + feature.name,
        scope=wanted,
    )


def finish(provider: oauth.Provider, result: oauth.SignInResult, attempt: LoginAttempt):
    """The callback of a grant: the same person, more scopes; back to the page that asked."""
    link = accounts.link_of(current_user, provider.name)
    if link is None or link.subject != result.identity.subject:
        # Another account signed in at the provider: its tokens must not replace this link's.
        return irreversible.refused(
            provider,
            "grant_different_person",
            f"That was another {provider.title} account.",
            event="grant",
        )
    before = set(scopes.granted(link))
    # What the person has now been asked for, over time: the record of what they declined.
    requested = scopes.join(scopes.requested(link), attempt.scope)
    accounts.link(
        current_user,
        replace(result, requested_scope=requested),
        provider_title=provider.title,
        combined=provider.include_granted_scopes,
    )
    added = [name for name in scopes.granted(link) if name not in before]
    security_events.emit("grant", provider=provider.name, user_id=current_user.id)
    if added:
        flash(f"{provider.title} allowed: {', '.join(added)}.", "info")
    else:
        flash(f"{provider.title} did not allow anything more.", "info")
    return redirect(sign_in_start.destination(attempt), code=303)


def declined(provider: oauth.Provider, attempt: LoginAttempt):
    """The person said no at the provider: the link and its tokens stay as they were, and the
    page that asked shows the feature as unavailable."""
    link = accounts.link_of(current_user, provider.name)
    if link is not None:
        link.requested_scope = scopes.join(scopes.requested(link), attempt.scope)
        db.session.commit()
    security_events.emit(
        "grant", outcome="cancelled", provider=provider.name, user_id=current_user.id
    )
    flash(
        f"You did not allow it at {provider.title}. Nothing else changed: your link to "
        f"{provider.title} is as it was.",
        "info",
    )
    return redirect(sign_in_start.destination(attempt), code=303)
