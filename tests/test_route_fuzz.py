"""Every client route against hostile requests: odd methods, non-ASCII and invalid UTF-8 in the
path, query, headers and body, duplicated parameters, wrong content types and huge values, signed
in or not, with the debugger on or off. The answer is always a clear 4xx (or the page itself),
never a server error and never a traceback.

Routes are read from the app's URL map, so a route added later is fuzzed without a change here.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.routing import Rule

from tests.forms import csrf_token
from tests.fuzzing import fuzz_settings

FUZZ = fuzz_settings(max_examples=12)

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
PROVIDER_NAMES = ("demo", "corp", "github", "DEMO", "dém", "%ff", "..", "a" * 300)
# Raw bytes as a server hands them to WSGI: header values arrive as latin-1 strings, so invalid
# UTF-8 (\xff, a lone continuation byte, an overlong slash) reaches the app as these characters.
INVALID_UTF8 = ("\xff\xfe", "\xc0\xaf", "\x80", "\xed\xa0\x80")
odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(INVALID_UTF8),
    st.sampled_from(["", " ", "null", "0", "-1", "/\\evil.example", "\r\nX-Injected: 1"]),
    st.just("x" * 100_000),
)
# A multipart part whose Content-Disposition names no field, then a named one.
NAMELESS_PART = (
    b"--fuzz\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
    b'--fuzz\r\nContent-Disposition: form-data; name="next"\r\n\r\n/\r\n--fuzz--\r\n'
)
raw_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"\xff\xfe\x00", b"%ff%fe", b"a=%ZZ&a=1&a=2", b"{" * 2000, NAMELESS_PART]),
    st.just(b"q=" + b"x" * 1_000_000),
)
# A query string as long as servers pass on: gunicorn refuses a request line over 4 KiB and nginx
# one over 8 KiB, so a megabyte of query never reaches the app (a megabyte of body does).
raw_query = st.one_of(raw_bytes.filter(lambda raw: len(raw) < 8192), st.just(b"q=" + b"x" * 8000))
FIELD_NAMES = ("next", "provider", "confirm", "csrf_token", "x")
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=fuzz"
CONTENT_TYPES = (
    None,
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/json",
    "text/plain",
    "text/html; charset=\xff",
)
header_names = st.sampled_from(
    ["Authorization", "Cookie", "Content-Type", "Accept", "Referer", "X-Forwarded-For", "Origin"]
)


def routes(app) -> list[Rule]:
    return list(app.url_map.iter_rules())


def path_for(rule: Rule, value: str) -> str:
    """The rule's path with every variable part (`<provider_name>`, `<path:filename>`) set to
    `value`."""
    return re.sub(r"<[^>]+>", lambda _: value, rule.rule)


@st.composite
def hostile_requests(draw, rule: Rule):
    value = draw(st.one_of(st.sampled_from(PROVIDER_NAMES), odd_text.map(lambda t: t[:200])))
    # Mostly the methods the route answers, so the fuzz reaches the view; sometimes any other.
    allowed = sorted(rule.methods - {"HEAD", "OPTIONS"})
    method = draw(
        st.one_of(st.sampled_from(allowed), st.sampled_from(allowed), st.sampled_from(METHODS))
    )
    # A list of pairs: the same name may come several times.
    fields = draw(st.lists(st.tuples(st.sampled_from(FIELD_NAMES), odd_text), max_size=6))
    return {
        "method": method,
        "path": path_for(rule, value),
        "query_string": draw(st.one_of(raw_query, st.just(b""))),
        "headers": draw(st.lists(st.tuples(header_names, odd_text), max_size=3)),
        # Mostly a form, as browsers send, so the fields reach the view; sometimes a multipart
        # body with a nameless part; sometimes any bytes with any content type.
        **draw(
            st.one_of(
                st.just({"content_type": FORM, "data": fields}),
                st.just({"content_type": FORM, "data": fields}),
                st.just({"content_type": MULTIPART, "data": NAMELESS_PART}),
                st.fixed_dictionaries(
                    {"content_type": st.sampled_from(CONTENT_TYPES), "data": raw_bytes}
                ),
            )
        ),
        "with_csrf_token": draw(st.booleans()) or draw(st.booleans()),
        "debug": draw(st.booleans()),
    }


@pytest.fixture
def app_overrides():
    # Deep enough to reach the views: the fuzz must not be stopped at the rate limit.
    return {"SIGN_IN_RATE_LIMIT": "100000 per minute"}


def send(app, client, token: str, request: dict):
    app.debug = request["debug"]
    data = request["data"]
    if isinstance(data, list) and request["with_csrf_token"]:
        data = [("csrf_token", token), *data]
    if isinstance(data, list):
        data = "&".join(f"{name}={value}" for name, value in data).encode("utf-8", "replace")
    environ = {"QUERY_STRING": request["query_string"].decode("latin-1")}
    for name, value in request["headers"]:
        # An HTTP server never passes on a line break inside a header; anything else it does.
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = value[:8000].replace("\r", "").replace("\n", "")
    try:
        return client.open(
            request["path"],
            method=request["method"],
            # As a server passes raw bytes to WSGI: as latin-1 characters.
            environ_overrides=environ,
            content_type=request["content_type"],
            data=data,
        )
    finally:
        app.debug = False


def assert_no_server_error(response, request) -> None:
    body = response.get_data(as_text=True)
    described = f"{request['method']} {request['path'][:80]!r}"
    assert response.status_code < 500, f"{described} answered {response.status_code}"
    assert "Traceback" not in body, described
    assert "Werkzeug Debugger" not in body, described


def fuzz_every_route(app, client, token: str) -> None:
    for rule in routes(app):

        @FUZZ
        @given(request=hostile_requests(rule))
        def check(request):
            assert_no_server_error(send(app, client, token, request), request)

        check()


def test_no_route_fails_on_hostile_input_when_signed_out(app, client):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    fuzz_every_route(app, client, token)


def test_no_route_fails_on_hostile_input_when_signed_in(app, client, flow):
    assert flow.sign_in("alice").status_code == 303
    token = csrf_token(client.get("/profile").get_data(as_text=True))
    fuzz_every_route(app, client, token)


@pytest.mark.parametrize("path", ["/logout", "/login/demo", "/profile/delete"])
def test_a_multipart_part_without_a_name_is_ignored(client, path):
    response = client.post(path, data=NAMELESS_PART, content_type=MULTIPART)
    # No CSRF token among the named fields: refused as any such form is, not a server error.
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/callback/demo", "/", "/logout/complete"])
def test_a_query_string_that_is_not_utf8_is_a_bad_request(client, path):
    # A raw 0x80 byte, as a server hands it over (as a latin-1 character in the WSGI environ).
    response = client.get(path, environ_overrides={"QUERY_STRING": "next=\x80"})
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/static//x.css", "/callback/demo"])
def test_a_line_break_in_the_query_string_is_a_bad_request(client, path):
    # `/static//x.css` is answered with a redirect to `/static/x.css` that carries the query on:
    # a raw CR there made Werkzeug raise while it wrote the Location header.
    response = client.get(path, environ_overrides={"QUERY_STRING": "next=/\r\nSet-Cookie: x=1"})
    assert response.status_code == 400
    assert "Set-Cookie" not in str(response.headers)
