"""The provider's machine endpoints, called by clients over HTTP: discovery, JWKS, token,
pushed authorization requests, revocation, userinfo, and the protected APIs of the resource
server (profile, contacts).
"""

from __future__ import annotations

from datetime import UTC, datetime

from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2.rfc6749 import InsecureTransportError, scope_to_list
from flask import Blueprint, current_app, jsonify

from demo_provider import contacts, discovery, par, resource_server, scopes, server, signing

bp = Blueprint("endpoints", __name__)


@bp.errorhandler(InsecureTransportError)
def insecure_transport(error: InsecureTransportError):
    """Credentials must reach the provider over https (plain http only on a loopback address)."""
    body = {"error": error.error, "error_description": error.description}
    return jsonify(body), 400, {"Cache-Control": "no-store"}


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    """The discovery document."""
    metadata = discovery.openid_configuration(current_app.config)
    response = jsonify(metadata)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/jwks.json")
def jwks():
    """The public signing keys clients verify ID tokens with."""
    response = jsonify(signing.public_jwks(signing.current_key()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/token")
def token():
    """Exchange a code (with its PKCE verifier) or a refresh token for tokens."""
    return server.authorization_server().create_token_response()


@bp.post("/par")
def pushed_authorization_request():
    """RFC 9126: store an authorization request for the browser to refer to by request_uri."""
    return server.authorization_server().create_endpoint_response(par.ENDPOINT_NAME)


@bp.post("/revoke")
def revoke():
    """RFC 7009 token revocation."""
    return server.authorization_server().create_endpoint_response("revocation")


@bp.route("/userinfo", methods=["GET", "POST"])
@resource_server.require_token("openid")
def userinfo():
    """Claims about the person, as far as the token's scope allows."""
    return jsonify(scopes.user_claims(current_token.user, current_token.get_scope()))


@bp.get("/api/profile")
@resource_server.require_token("profile")
def profile():
    """The demo resource server's API: the person's profile, fetched live."""
    user = current_token.user
    payload = {
        "sub": user.sub,
        "username": user.username,
        "name": user.name,
        "bio": user.bio,
        "location": user.location,
        "member_since": user.member_since.isoformat(),
        # Proves to the person looking at the client's profile page that this is a live call.
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if "email" in scope_to_list(current_token.get_scope()):
        payload["email"] = user.email
    return jsonify(payload)


@bp.get("/api/contacts")
@resource_server.require_token(scopes.CONTACTS_READ)
def contacts_api():
    """The person's contacts. A token without `contacts.read` gets 403 `insufficient_scope`
    naming that scope, which tells the client to ask the person for it (incremental consent).
    """
    return jsonify({"contacts": contacts.for_username(current_token.user.username)})
