"""How the app, and the demo provider, read what a request carries: form fields minus multipart
parts that have no name, and no query string that is not UTF-8 or holds control characters.

Werkzeug files a multipart part whose Content-Disposition names no field under the key None, and
code that expects every field name to be text (Flask-WTF's CSRF check, for one) then fails with a
server error. A part without a name is no field of any form, so it is dropped as the body is
parsed. Werkzeug also decodes the query string as UTF-8 when a view first reads it, and raises on
bytes that are not; such an address is answered with a 400 before any view runs, as is one with a
raw control character, which no real URL holds.
"""

from __future__ import annotations

import re

from flask import Flask, Request, abort, request

# C0 controls and DEL: never part of a URL as a browser or a proxy sends it.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class NamedFieldsRequest(Request):
    """Flask's request, with form fields and files keyed only by their (text) names."""

    def _load_form_data(self) -> None:
        """Parse the body as usual, then drop the parts that came without a name."""
        super()._load_form_data()
        for attribute in ("form", "files"):
            parsed = self.__dict__[attribute]  # where Werkzeug stores what it parsed
            if None in parsed:
                named = ((key, value) for key, value in parsed.items(multi=True) if key is not None)
                self.__dict__[attribute] = self.parameter_storage_class(named)


def init_app(app: Flask) -> None:
    """Read requests with `NamedFieldsRequest`, and refuse malformed query strings first thing."""
    app.request_class = NamedFieldsRequest
    app.before_request(refuse_malformed_query)


def refuse_malformed_query() -> None:
    """Answer 400 to a query string that is not UTF-8, or that holds a control character."""
    # Not UTF-8: the first view that reads the query would raise on it.
    try:
        query = request.query_string.decode()
    except UnicodeDecodeError:
        abort(400)
    # A raw CR or LF is no valid URL, and Werkzeug's redirect for a doubled slash
    # (`/static//x?\r`) would raise on it while writing the Location header.
    if CONTROL_CHARACTERS.search(query):
        abort(400)
