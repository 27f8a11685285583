"""The provider's answers when a request fails outside the OAuth flow (unknown page, wrong method,
oversized body, a bug): JSON OAuth-style errors for the machine endpoints that clients call, a
short page for everything a browser sees, and never a traceback or internal detail.
"""

from __future__ import annotations

from flask import Flask, current_app, got_request_exception, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

# Called by clients, which parse JSON errors (RFC 6749 section 5.2, RFC 6750 section 3).
_MACHINE_PATHS = ("/token", "/par", "/revoke", "/userinfo", "/jwks.json")
_MACHINE_PREFIXES = ("/api/", "/.well-known/")

# Error codes for the JSON bodies: OAuth's own where one fits.
_JSON_ERRORS = {404: "not_found", 500: "server_error"}

# What a person reads, in plain words.
_PAGES = {
    404: ("Page not found", "There is no page at this address on the Demo Provider."),
    405: ("This page cannot be used that way", "The address does not accept this kind of request."),
    413: ("Request too large", "The form sent to the Demo Provider was larger than it accepts."),
    500: (
        "Something went wrong here",
        "The Demo Provider ran into a problem it did not expect. Go back to the application you "
        "came from and try again.",
    ),
}
_DEFAULT_PAGE = (
    "This request cannot be handled",
    "The Demo Provider could not understand the request. Go back and try again.",
)


# The last resort, when even the error page fails: plain text, nothing from the exception.
_FALLBACK = ("Something went wrong at the Demo Provider.\n", 500, {"Content-Type": "text/plain"})


def init_app(app: Flask) -> None:
    """Answer every HTTP error of `app`, and unexpected exceptions as 500, in the right format."""
    app.register_error_handler(HTTPException, http_error)
    # Without a handler for Exception, Flask re-raises an unexpected exception when
    # PROPAGATE_EXCEPTIONS is on, as it is in debug mode (FLASK_DEBUG=1 reaches this app too
    # when the client mounts it): `flask run --debug` then shows whoever reached the bug
    # Werkzeug's debugger, a traceback page with a console. With this handler, nothing is
    # re-raised.
    app.register_error_handler(Exception, unexpected_error)


def unexpected_error(error: Exception):
    """A 500 in the caller's format for an exception nothing else handled, logged with its
    traceback for the operator and never shown to the caller.
    """
    if isinstance(error, HTTPException):
        return http_error(error)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # What Flask does for an unhandled exception: the log line, and the signal error reporters
    # (Sentry and the like) listen to.
    app.log_exception((type(error), error, error.__traceback__))
    got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=error)
    try:
        return http_error(InternalServerError(original_exception=error))
    except Exception:
        # An exception raised here would reach Flask's own handling, and so the debugger.
        app.logger.exception("The Demo Provider's error page failed")
        return _FALLBACK


def http_error(error: HTTPException):
    """A JSON error for clients, an HTML page for people; the status code is kept."""
    status = error.code or 500
    # Keep headers the status relies on (Allow on 405), drop the HTML content type.
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    if is_machine_endpoint(request.path):
        body = {"error": _JSON_ERRORS.get(status, "invalid_request")}
        if status != 500:
            # Werkzeug's stock descriptions are generic; a 500's would say nothing useful.
            body["error_description"] = error.description
        headers.append(("Pragma", "no-cache"))
        return jsonify(body), status, headers
    title, message = _PAGES.get(status, _DEFAULT_PAGE)
    page = render_template("demo_provider/http_error.html", title=title, message=message)
    return page, status, headers


def is_machine_endpoint(path: str) -> bool:
    """Whether `path` (relative to the provider's mount point) is called by clients."""
    return path in _MACHINE_PATHS or path.startswith(_MACHINE_PREFIXES)
