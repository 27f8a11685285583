"""Cross-cutting HTTP behaviour of the client: security headers, error pages, and log redaction
so no code, state or token in a URL reaches an access log.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

# The callback URL carries the authorization code and state; the dev server logs request lines.
# Plain `?code=...` and, inside an encoded URL such as a login page's `next`, `%26code%3D...`.
_SECRET_PARAMETERS = "|".join(
    [
        *("code", "state", "nonce", "session_state", "code_verifier", "client_secret"),
        *("access_token", "refresh_token", "id_token", "id_token_hint"),
    ]
)
_SECRET_QUERY_VALUE = re.compile(rf"(?i)([?&](?:{_SECRET_PARAMETERS})=)[^&\s\"]*")
_ENCODED_SECRET_QUERY_VALUE = re.compile(
    rf"(?i)((?:%3F|%26)(?:{_SECRET_PARAMETERS})%3D)(?:(?!%26)[^&\s\"])*"
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

ERROR_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    500: "Something went wrong",
}


def redact(text: str) -> str:
    """The text with the values of secret-bearing query parameters replaced."""
    text = _SECRET_QUERY_VALUE.sub(r"\1[redacted]", text)
    return _ENCODED_SECRET_QUERY_VALUE.sub(r"\1[redacted]", text)


class RedactQuerySecrets(logging.Filter):
    """Rewrites request lines in log records before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def init_app(app: Flask) -> None:
    """Install headers, error pages and log redaction on the app."""
    logging.getLogger("werkzeug").addFilter(RedactQuerySecrets())
    # urllib3 logs every URL it fetches at DEBUG; keep it quiet whatever the root level is.
    logging.getLogger("urllib3").setLevel(logging.INFO)

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
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.endpoint in {"callback.finish", "profile.show"} or request.method == "POST":
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
        return render_template(
            "errors/error.html",
            code=code,
            title=ERROR_TITLES.get(code, error.name),
            message=None,
        ), code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_template(
            "errors/error.html", code=500, title=ERROR_TITLES[500], message=None
        ), 500
