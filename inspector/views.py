"""The flow inspector: this session's sign-in and every later refresh and API call, drawn as a
sequence diagram across the four OAuth roles. A development aid; off in production.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, render_template, url_for

from inspector import flow_trace

bp = Blueprint("inspector", __name__, template_folder="templates")

ROLE_TITLES = {
    flow_trace.BROWSER: ("Resource owner", "you, in the browser"),
    flow_trace.CLIENT: ("Client", "this app"),
    flow_trace.AUTHORIZATION_SERVER: ("Authorization server", "the provider's sign-in"),
    flow_trace.RESOURCE_SERVER: ("Resource server", "the provider's API"),
}


@bp.before_request
def only_when_enabled():
    if not current_app.config["FLOW_INSPECTOR_ENABLED"]:
        abort(404)


@bp.app_context_processor
def link_to_the_inspector():
    """Offer pages a link here (`flow_inspector_url`) while the inspector is on; the client's
    templates show the link only when it is given, so they work without the inspector."""
    if not current_app.config["FLOW_INSPECTOR_ENABLED"]:
        return {}
    return {"flow_inspector_url": url_for("inspector.show")}


@bp.after_request
def never_cache(response):
    # The page shows who signed in and what they were sent: a browser's history or a shared
    # cache must not keep it for the next person at this computer, signed in or not.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/inspector")
def show():
    steps = []
    for step in flow_trace.steps_for_session():
        sender = flow_trace.ROLES.index(step.sender)
        receiver = flow_trace.ROLES.index(step.receiver)
        steps.append(
            {
                "title": step.title,
                "details": json.loads(step.details),
                "note": step.note,
                "time": step.created_at,
                "start": min(sender, receiver),
                "span": abs(sender - receiver),
                "direction": "self"
                if sender == receiver
                else ("right" if receiver > sender else "left"),
                "sender": ROLE_TITLES[step.sender][0],
                "receiver": ROLE_TITLES[step.receiver][0],
            }
        )
    return render_template(
        "inspector/show.html",
        roles=[ROLE_TITLES[role] for role in flow_trace.ROLES],
        steps=steps,
    )
