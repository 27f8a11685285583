"""The flow inspector's recorder: what travelled between the four OAuth roles during this
browser's last sign-in and every later refresh and API call, redacted, kept for the inspector page.

Code anywhere in the flow calls `record(...)`; outside a request, or with the inspector off, it
does nothing. Values are shown as they travelled except secrets, which are only said to be present.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import delete, select

from extensions import db
from models import FlowStep, utcnow

BROWSER = "browser"
CLIENT = "client"
AUTHORIZATION_SERVER = "authorization_server"
RESOURCE_SERVER = "resource_server"
ROLES = (BROWSER, CLIENT, AUTHORIZATION_SERVER, RESOURCE_SERVER)

COOKIE = "flow_trace"
MAX_STEPS = 200
REDACTED = "(redacted)"


@dataclass
class Step:
    sender: str
    receiver: str
    title: str
    details: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None


def enabled() -> bool:
    return bool(current_app.config.get("FLOW_INSPECTOR_ENABLED"))


def record(
    sender: str,
    receiver: str,
    title: str,
    details: Iterable[tuple[str, object]] = (),
    note: str | None = None,
) -> None:
    """Note one message of the flow for this browser's trace."""
    if not has_request_context() or not enabled():
        return
    pending = g.setdefault("flow_steps", [])
    pending.append(Step(sender, receiver, title, [(k, str(v)) for k, v in details], note))


def start_new_flow() -> None:
    """A new sign-in begins: the trace shows it from here on."""
    if has_request_context() and enabled():
        g.flow_restart = True


def secret(value: object) -> str:
    """How a secret is shown: that it travelled, and how long it was, never what it was."""
    return f"{REDACTED}, {len(str(value))} characters" if value else "absent"


def record_token_response(token: Mapping[str, Any], *, previous_refresh: bool = False) -> None:
    """Show the inspector what a token endpoint answered, tokens themselves redacted."""
    refresh = "absent"
    if token.get("refresh_token"):
        refresh = secret(token["refresh_token"])
        if previous_refresh:
            refresh += ": a new one (rotation); the old one is discarded"
    elif previous_refresh:
        refresh = "absent: the old one stays valid and is kept"
    record(
        AUTHORIZATION_SERVER,
        CLIENT,
        "200 OK: token response",
        [
            ("token_type", token.get("token_type", "absent")),
            ("scope", token.get("scope", "(as requested)")),
            ("expires_in", token.get("expires_in", "absent")),
            ("access_token", secret(token.get("access_token"))),
            ("refresh_token", refresh),
            ("id_token", secret(token.get("id_token"))),
        ],
        note="Stored encrypted in the database, never in the session cookie or a page.",
    )


def steps_for_browser() -> list[FlowStep]:
    """The recorded steps of the browser making this request, oldest first."""
    trace_id = request.cookies.get(COOKIE)
    if not trace_id:
        return []
    return list(
        db.session.scalars(
            select(FlowStep).where(FlowStep.trace_id == trace_id).order_by(FlowStep.id)
        )
    )


def init_app(app: Flask) -> None:
    """Save each request's steps under the browser's trace cookie."""

    @app.after_request
    def save_steps(response):
        steps = g.pop("flow_steps", None)
        restart = g.pop("flow_restart", False)
        if not enabled() or (not steps and not restart):
            return response
        trace_id = request.cookies.get(COOKIE) or secrets.token_urlsafe(16)
        if restart:
            db.session.execute(delete(FlowStep).where(FlowStep.trace_id == trace_id))
        now = utcnow()
        for step in steps or []:
            db.session.add(
                FlowStep(
                    trace_id=trace_id,
                    created_at=now,
                    sender=step.sender,
                    receiver=step.receiver,
                    title=step.title,
                    details=json.dumps(step.details),
                    note=step.note,
                )
            )
        db.session.commit()
        _trim(trace_id)
        response.set_cookie(
            COOKIE,
            trace_id,
            httponly=True,
            samesite="Lax",
            secure=app.config["SESSION_COOKIE_SECURE"],
        )
        return response


def _trim(trace_id: str) -> None:
    ids = db.session.scalars(
        select(FlowStep.id).where(FlowStep.trace_id == trace_id).order_by(FlowStep.id.desc())
    ).all()
    if len(ids) > MAX_STEPS:
        db.session.execute(delete(FlowStep).where(FlowStep.id.in_(ids[MAX_STEPS:])))
        db.session.commit()
