"""The legacy implicit grant lab, served only while `DEMO_PROVIDER_LEGACY_IMPLICIT` is on (never in
production, see `settings`): a page that starts the implicit grant for the lab's own client, and
the callback page where the access token arrives in the URL fragment, next to why the grant was
abandoned and what replaced it.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, render_template, url_for

from demo_provider import clients
from demo_provider.extensions import db
from demo_provider.models import FROM_IMPLICIT_LAB

bp = Blueprint("implicit_lab", __name__, url_prefix="/labs/implicit")

CLIENT_ID = "implicit-lab"
CLIENT_NAME = "Implicit grant lab"
# Enough to call the demo API with the token, nothing more.
SCOPE = "profile"


def callback_uri(issuer: str) -> str:
    """The lab's redirect URI: its own callback page, on the provider."""
    return f"{issuer}/labs/implicit/callback"


def sync_client(config: dict[str, Any]) -> None:
    """Register the lab's public client while the lab is on; remove it (and every token it was
    given) while it is off, so the legacy grant leaves nothing behind.
    """
    if not config["DEMO_PROVIDER_LEGACY_IMPLICIT"]:
        clients.remove(CLIENT_ID)
        return
    clients.save(
        CLIENT_ID,
        client_secret_hash="",
        client_name=CLIENT_NAME,
        redirect_uris=[callback_uri(config["DEMO_PROVIDER_ISSUER"])],
        scope=SCOPE,
        public=True,
        legacy_implicit=True,
        registered_via=FROM_IMPLICIT_LAB,
    )
    db.session.commit()


@bp.get("")
def index():
    """What the implicit grant is, and a button that starts it."""
    issuer = current_app.config["DEMO_PROVIDER_ISSUER"]
    request_fields = [
        ("response_type", "token"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", callback_uri(issuer)),
        ("scope", SCOPE),
        # Sent as a client would, though nothing here can check it on the way back: the
        # callback's parameters are in the fragment, which only a script could read.
        ("state", secrets.token_urlsafe(16)),
    ]
    return render_template(
        "demo_provider/implicit_lab.html",
        authorize_action=url_for("views.authorize"),
        request_fields=request_fields,
        request_url=f"{issuer}/authorize?{urlencode(request_fields)}",
        access_token_ttl=current_app.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"],
    )


@bp.get("/callback")
def callback():
    """Where the browser lands with the token in the fragment, which never reaches the server."""
    issuer = current_app.config["DEMO_PROVIDER_ISSUER"]
    # The order Authlib writes them in: the token response, then state, then iss (RFC 9207).
    ttl = current_app.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"]
    fragment = (
        f"token_type=Bearer&access_token=<the access token>&expires_in={ttl}&scope={SCOPE}"
        f"&state=<the state sent>&iss={quote(issuer, safe='')}"
    )
    return render_template(
        "demo_provider/implicit_lab_callback.html",
        response_shape=f"{callback_uri(issuer)}#{fragment}",
        profile_endpoint=f"{issuer}/api/profile",
    )
