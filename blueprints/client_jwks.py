"""The public half of the client's signing keys, at `/.well-known/jwks.json`: providers that
authenticate this app with `private_key_jwt` are registered with this URL as its `jwks_uri`, and
fetch the keys that verify its client assertions. Never a private member (see
oauth/client_keys.py `public_jwks`).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

from oauth import client_keys

bp = Blueprint("client_jwks", __name__)

# Providers cache the set; a rotation publishes a new key well before it signs (README).
MAX_AGE_SECONDS = 300


@bp.get("/.well-known/jwks.json")
def jwks():
    keys = current_app.extensions["client_signing_keys"]
    if not keys:
        abort(404)
    response = jsonify(client_keys.public_jwks(keys))
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    return response
