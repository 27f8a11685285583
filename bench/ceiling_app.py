"""The throughput ceiling for the profile page: the real app from `app.create_app()` plus one
bare route, `/bench/ceiling`, that makes the profile page's single upstream call (GET the demo
provider's /api/profile with the access token) through the app's own HTTP layer (`oauth.http.get`:
the provider's pooled connections, the same headers and timeouts) and nothing else: no session
cookie, no database, no template. When the token is DPoP-bound, the call is the same as the
profile page's: `Authorization: DPoP` with a fresh proof of the key (sent once by the benchmark,
parsed once here), so that both routes ask the same of the provider.

Served by gunicorn beside the profile page, in the same workers with the same settings:
`gunicorn -c gunicorn.conf.py 'bench.ceiling_app:create_app()'`. The route exists only here.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, jsonify, request

import app
import providers
from oauth import dpop, http

# The access token to call with; the benchmark reads it from the database once and sends it.
BEARER_HEADER = "X-Bench-Access-Token"
# The private JWK a DPoP-bound token needs (bench only: the app never sends a key anywhere).
DPOP_KEY_HEADER = "X-Bench-Dpop-Key"
KEYS_KEY = "bench_ceiling_dpop_keys"


def request_headers(access_token: str, dpop_key: str | None) -> dict[str, str]:
    """What a request to the ceiling sends: the token to call with, and the DPoP key (the
    private JWK's text) when the token is bound to one."""
    headers = {BEARER_HEADER: access_token}
    if dpop_key is not None:
        headers[DPOP_KEY_HEADER] = dpop_key
    return headers


def create_app() -> Flask:
    """The real app, with the ceiling route added."""
    return add_route(app.create_app())


def add_route(flask_app: Flask) -> Flask:
    """Add the ceiling route to an app that has not served a request yet."""
    flask_app.extensions[KEYS_KEY] = {}
    flask_app.add_url_rule("/bench/ceiling", "bench_ceiling", ceiling)
    return flask_app


def ceiling():
    """The upstream profile call alone, answered with the name it returned."""
    token = request.headers.get(BEARER_HEADER)
    if not token:
        abort(400)
    provider = providers.get("demo")
    url = current_app.config["DEMO_ISSUER"] + "/api/profile"
    key_text = request.headers.get(DPOP_KEY_HEADER)
    if key_text:
        keys = current_app.extensions[KEYS_KEY]
        key = keys.get(key_text) or keys.setdefault(key_text, dpop.deserialize(key_text))
        proof = dpop.proof(key, method="GET", url=url, access_token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
        response = http.get(provider, url, what="api", extra_headers=headers)
    else:
        response = http.get(provider, url, what="api", access_token=token)
    if response.status_code != 200:
        abort(502)
    return jsonify(name=response.json().get("name"))
