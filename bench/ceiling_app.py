"""The throughput ceiling for the profile page: the real app from `app.create_app()` plus one
bare route, `/bench/ceiling`, that makes the profile page's single upstream call (GET the demo
provider's /api/profile with a Bearer token) through one pooled `requests.Session` and nothing
else: no session cookie, no database, no template.

Served by gunicorn beside the profile page, in the same workers with the same settings:
`gunicorn -c gunicorn.conf.py 'bench.ceiling_app:create_app()'`. The route exists only here.
"""

from __future__ import annotations

import requests
from flask import Flask, abort, current_app, jsonify, request
from requests.adapters import HTTPAdapter

import app

SESSION_KEY = "bench_ceiling_session"
# The access token to call with; the benchmark reads it from the database once and sends it.
BEARER_HEADER = "X-Bench-Access-Token"


def create_app() -> Flask:
    """The real app, with the ceiling route added."""
    flask_app = app.create_app()
    session = requests.Session()
    # The same pool size as the app's own provider connections (oauth/http.py).
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=flask_app.config["HTTP_POOL_SIZE"])
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    flask_app.extensions[SESSION_KEY] = session
    flask_app.add_url_rule("/bench/ceiling", "bench_ceiling", ceiling)
    return flask_app


def ceiling():
    """The upstream profile call alone, answered with the name it returned."""
    token = request.headers.get(BEARER_HEADER)
    if not token:
        abort(400)
    config = current_app.config
    response = current_app.extensions[SESSION_KEY].get(
        config["DEMO_ISSUER"] + "/api/profile",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=(config["HTTP_CONNECT_TIMEOUT"], config["HTTP_READ_TIMEOUT"]),
    )
    if response.status_code != 200:
        abort(502)
    return jsonify(name=response.json().get("name"))
