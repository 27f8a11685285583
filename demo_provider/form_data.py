"""How the provider reads what a request carries: form fields minus multipart parts that have no
name, and no query string that is not UTF-8 or holds control characters.

Werkzeug files a multipart part whose Content-Disposition names no field under the key None, and
code that expects every field name to be text (Flask-WTF's CSRF check, for one) then fails with a
server error. A part without a name is not a field of any form, so it is dropped as it is parsed.
Werkzeug also decodes the query string as UTF-8 when a view first reads it, and raises on bytes
that are not; such an address is answered with a 400 before any view runs, as is one with a raw
control character, which no real URL holds.
"""

from __future__ import annotations

import re

from flask import Flask, Request, abort, request

# C0 controls and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class ProviderRequest(Request):
    """Flask's request, with form fields and files keyed only by their (text) names."""

    def _load_form_data(self) -> None:
        """Parse the body as usual, then drop the parts that came without a name."""
        super()._load_form_data()
        for attribute in ("form", "files"):
            # Where Werkzeug itself puts the parsed data, bypassing the cached properties.
            fields = self.__dict__[attribute]
            if None in fields:
                self.__dict__[attribute] = self.parameter_storage_class(
                    (name, value) for name, value in fields.items(multi=True) if name is not None
                )


def init_app(app: Flask) -> None:
    """Read requests with `ProviderRequest`, and refuse undecodable query strings first thing."""
    app.request_class = ProviderRequest
    app.before_request(_refuse_undecodable_query)


def _refuse_undecodable_query() -> None:
    # Bytes that are not UTF-8 would raise in the first view that reads the query; control
    # characters are no part of a real URL, and would raise in a redirect's Location header.
    try:
        query = request.query_string.decode()
    except UnicodeDecodeError:
        abort(400)
    if CONTROL_CHARACTERS.search(query):
        abort(400)
