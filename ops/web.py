"""Cross-cutting HTTP behaviour of the client: security headers, error pages, and logging that
never carries a secret.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, render_template, request, session
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

import oauth
import providers
from ops import log_safety, request_parsing, security_events

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

ERROR_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    429: "Too many attempts",
    500: "Something went wrong",
}


def base_url_mismatch() -> dict[str, str | None] | None:
    """Where this request arrived when that is not BASE_URL's scheme, host and port; else None.
    Pages ask only in development (`init_app`).

    Redirect URIs come from BASE_URL only, never from the Host header, so a sign-in started at
    another address (another port, `localhost` for `127.0.0.1`) comes back to BASE_URL without
    this browser's cookies there. Said on the page rather than left to fail at the provider.
    """
    base_url = current_app.config["BASE_URL"]
    expected = urlsplit(base_url)
    if (request.scheme, request.host.lower()) == (expected.scheme, expected.netloc.lower()):
        return None
    arrived = f"{request.scheme}://{request.host}"
    try:
        port = urlsplit(arrived).port
    except ValueError:  # a Host header with no usable port: nothing to suggest
        port = None
    return {"arrived": arrived, "base_url": base_url, "port": str(port) if port else None}


def form_action_sources() -> list[str]:
    """Where this app's forms may lead: itself, and the configured providers' sign-in and
    sign-out pages (a form POST here answers with a redirect there, and CSP's form-action
    governs that redirect too). A page with injected markup can then post nowhere else.
    """
    origins = {"'self'"}
    for provider in providers.enabled():
        urls = [provider.issuer, *provider.endpoints.values()]
        # Discovery may place the endpoints on another host than the issuer; once fetched, they
        # are known without a network call.
        document = oauth.cached_metadata(provider) or {}
        urls += [document.get("authorization_endpoint"), document.get("end_session_endpoint")]
        origins.update(_origin(url) for url in urls if isinstance(url, str))
    origins.discard(_origin(current_app.config["BASE_URL"]))
    origins.discard(None)
    return sorted(origins)


def _origin(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL, else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def init_app(app: Flask) -> None:
    """Install headers, error pages and log redaction on the app."""
    request_parsing.init_app(app)
    log_safety.install()
    security_events.init_app(app)

    @app.before_request
    def tag_request():
        # Ties the security events of one request together (and to the user's error report).
        g.request_id = secrets.token_hex(8)

    if app.config["APP_ENV"] == "development":
        # Registered in development only (APP_ENV is read at start-up): a production page
        # would run it on every render, only for it to answer nothing.
        @app.context_processor
        def development_hints():
            return {"base_url_mismatch": base_url_mismatch()}

    @app.template_filter("datetime")
    def format_datetime(value):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # The callback URL holds a code and state: never send it to anyone as a Referer.
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if "request_id" in g:
            headers["X-Request-Id"] = g.request_id
        if response.mimetype == "text/html":
            headers.setdefault(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY.format(form_action=" ".join(form_action_sources())),
            )
        # Pages for a signed-in user, the callback and every POST answer must not be kept by
        # the browser or a shared cache (the back button on a shared computer, a proxy).
        # The session's user id, not current_user: no user load (a query) for static files.
        if (
            "_user_id" in session
            or request.endpoint == "callback.finish"
            or request.method == "POST"
        ):
            headers["Cache-Control"] = "no-store"
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template(
            "errors/error.html",
            code=400,
            title="This form has expired",
            message="Go back, reload the page and try again.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        message = "Wait a minute, then try again." if code == 429 else None
        if code == 429:
            security_events.emit("rate_limited", outcome="refused", path=request.path)
        return render_template(
            "errors/error.html",
            code=code,
            title=ERROR_TITLES.get(code, error.name),
            message=message,
        ), code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_template(
            "errors/error.html", code=500, title=ERROR_TITLES[500], message=None
        ), 500
