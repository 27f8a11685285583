"""OpenID Connect Back-Channel Logout 1.0, relying-party side: the provider POSTs a signed logout
token here when a person's session there ends, and the sessions it names end here. The next
request of an ended session is signed out, and told why.

Called server to server, never by a browser: exempt from CSRF (there is no cookie to ride on,
and the token's signature is the only credential), answered in JSON, never cached.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

import accounts
import oauth
import providers
from accounts import provider_logout
from extensions import csrf
from ops import security_events

bp = Blueprint("backchannel_logout", __name__)

# A logout token is a few hundred bytes; the form around it has no reason to be larger.
MAX_BODY_BYTES = 32 * 1024


@bp.post("/backchannel-logout/<provider_name>")
@csrf.exempt
def receive(provider_name: str):
    provider = providers.get(provider_name)
    if provider is None or not provider.is_oidc:
        return _refused(provider_name, "unknown_provider", status=404)
    # §2.5: the token comes as a form field. Anything else is not a logout request; a huge body
    # is refused before it is read.
    if request.content_length is None or request.content_length > MAX_BODY_BYTES:
        return _refused(provider_name, "body_too_large_or_unsized")
    if request.mimetype != "application/x-www-form-urlencoded":
        return _refused(provider_name, "body_not_a_form")
    try:
        claims = oauth.validate_logout_token(provider, request.form.get("logout_token"))
    except oauth.LogoutTokenRejected as error:
        return _refused(provider_name, error.reason)
    try:
        ended = provider_logout.end_sessions(provider, claims)
    except accounts.LogoutTokenReplayed:
        return _refused(provider_name, "logout_token_replayed")
    security_events.emit(
        "backchannel_logout", provider=provider_name, sessions=ended, has_sid="sid" in claims
    )
    return _answer({}, 200)


def _refused(provider_name: str, reason: str, *, status: int = 400):
    security_events.emit(
        "backchannel_logout", outcome="refused", reason=reason, provider=provider_name[:64]
    )
    # §2.8: 400 with an OAuth error; the reason code helps the provider's operator, and tells
    # an attacker nothing the token did not already hold.
    return _answer({"error": "invalid_request", "error_description": reason}, status)


def _answer(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
