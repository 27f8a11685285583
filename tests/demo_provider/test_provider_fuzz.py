"""Property-based tests: hostile input at the demo provider's authorization, token, revocation and
resource endpoints never causes a server error, never sends the browser to an unregistered
address, and never stores a code or token. Every endpoint a client or a browser talks to also
gets odd methods, headers, cookies, bodies and query strings that are not UTF-8, repeated
parameters, content types that do not match the body, and megabyte values, with debug mode off
and on, and answers without a server error or a traceback.
"""

import base64
import json
from urllib.parse import quote_from_bytes, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from demo_provider.extensions import db
from demo_provider.models import AuthorizationCode, Grant, Token
from tests.fuzzing import fuzz_settings

# Modest numbers of examples: the whole file stays well under 20 seconds on two cores.
FUZZ = fuzz_settings(max_examples=30)

AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "request",
    "request_uri",
    "response_mode",
    "id_token_hint",
    "login_hint",
    "claims",
)
TOKEN_FIELDS = (
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
)
KNOWN_VALUES = (
    "",
    " ",
    "code",
    "token",
    "id_token",
    "code id_token",
    "none",
    "login",
    "consent",
    "openid",
    "openid profile email offline_access",
    "S256",
    "plain",
    "authorization_code",
    "refresh_token",
    "password",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "workshop-app",
    "other-app",
    "http://127.0.0.1:5000/callback/demo",
    "http://127.0.0.1:5000/callback/demo/",
    "https://evil.example/cb",
    "//evil.example",
    "javascript:alert(1)",
    "-1",
    "0",
    "99999999999999999999999",
    "%00",
    "%ff%fe",
    "\"'><script>",
    "a" * 43,
    "null",
    "[]",
    "{}",
    # Digits Python's str.isdigit() accepts but int() refuses, and a number int() will not parse.
    "²",
    "٣",
    "9" * 5000,
    "1e3",
    "+5",
)

# Arbitrary text: every Unicode category, control characters included, and now and then huge
# (the known values and short text are listed twice to make them more likely than huge ones).
hostile_text = st.one_of(
    st.sampled_from(KNOWN_VALUES),
    st.text(max_size=64),
    st.sampled_from(KNOWN_VALUES),
    st.text(st.characters(max_codepoint=0x1F), max_size=16),
    st.text(max_size=64),
    st.builds(
        lambda piece, times: piece * times,
        st.text(min_size=1, max_size=4),
        st.integers(500, 4000),
    ),
)
# What can travel in an HTTP header: Latin-1 without line breaks.
header_text = st.text(
    st.characters(max_codepoint=0xFF, blacklist_characters="\r\n\x00"), max_size=200
)


def stored_rows(app) -> tuple[int, int, int]:
    """How many grants, codes and tokens the provider holds."""
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Grant, AuthorizationCode, Token)
        )


def fixed_authorize_params(flow) -> dict[str, str]:
    """A valid authorization request, the same every time, so every example can be replayed."""
    return flow.authorize_params(
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", state="fuzz-state", nonce="fuzz-nonce"
    )


def assert_not_a_server_error(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


@st.composite
def authorize_queries(draw, valid):
    """A valid authorization request with up to three of its parameters dropped, replaced or
    repeated, plus optional parameters with arbitrary values, in any order."""
    mutated = draw(st.sets(st.sampled_from(sorted(valid)), max_size=3))
    pairs = []
    for name, value in valid.items():
        action = draw(st.sampled_from(["drop", "replace", "repeat"])) if name in mutated else None
        if action is None:
            pairs.append((name, value))
        elif action == "replace":
            pairs.append((name, draw(hostile_text)))
        elif action == "repeat":
            pairs.extend([(name, value), (name, draw(hostile_text))])
    names = st.one_of(st.sampled_from(AUTHORIZE_PARAMETERS), st.text(max_size=16))
    pairs.extend(draw(st.lists(st.tuples(names, hostile_text), max_size=3)))
    return draw(st.permutations(pairs))


@pytest.fixture
def browsers(demo_app, flow_for):
    """Two browsers at the provider: one signed out, one signed in as alice."""
    signed_in = flow_for(demo_app.test_client())
    signed_in.sign_in()
    return {False: flow_for(demo_app.test_client()), True: signed_in}


@FUZZ
@given(data=st.data(), signed_in=st.booleans())
def test_authorize_survives_any_query_and_stores_nothing(demo_app, browsers, data, signed_in):
    flow = browsers[signed_in]
    query = data.draw(authorize_queries(fixed_authorize_params(flow)))
    before = stored_rows(demo_app)

    response = flow.client.get("/authorize", query_string=query)

    assert_not_a_server_error(response)
    location = response.headers.get("Location")
    if location is not None:
        # Only the registered redirect URI, or the provider's own sign-in page.
        assert location.startswith((flow.redirect_uri + "?", "/login?")), location
    assert stored_rows(demo_app) == before


@FUZZ
@given(raw=st.binary(max_size=300), signed_in=st.booleans())
def test_authorize_survives_undecodable_query_bytes(demo_app, browsers, raw, signed_in):
    flow = browsers[signed_in]
    # A valid request followed by bytes that need not decode as UTF-8 (or at all).
    query = urlencode(fixed_authorize_params(flow)) + "&" + quote_from_bytes(raw, safe="=&;+%")
    before = stored_rows(demo_app)

    response = flow.client.get("/authorize", query_string=query)

    assert_not_a_server_error(response)
    assert stored_rows(demo_app) == before


@pytest.fixture
def live_grant(demo_app, flow_for):
    """A code that is still redeemable and a live access token, issued in a separate browser, so
    the fuzzer can aim near-valid requests at them (without ever knowing the code's verifier)."""
    flow = flow_for(demo_app.test_client())
    body, _ = flow.tokens()
    code, _, _ = flow.obtain_code()
    return {"code": code, "access": body["access_token"]}


@st.composite
def token_forms(draw, live):
    """A token request: a grant type, real or arbitrary codes, verifiers and tokens, extra
    fields, any of them repeated."""
    near_valid = {
        "grant_type": st.sampled_from(["authorization_code", "refresh_token"]),
        "code": st.sampled_from([live["code"], live["access"]]),
        "redirect_uri": st.just("http://127.0.0.1:5000/callback/demo"),
        "code_verifier": st.sampled_from(["a" * 43, "b" * 128, "a" * 42]),
        # Never the real refresh token: with valid client authentication it would rightly work.
        "refresh_token": st.sampled_from([live["access"], live["code"]]),
    }
    pairs = []
    for name, strategy in near_valid.items():
        if draw(st.booleans()):
            pairs.append((name, draw(st.one_of(strategy, hostile_text))))
    names = st.one_of(st.sampled_from(TOKEN_FIELDS), st.text(max_size=16))
    pairs.extend(draw(st.lists(st.tuples(names, hostile_text), max_size=5)))
    return pairs


@st.composite
def client_authentications(draw, flow):
    """Headers, form fields and the client address of a token or revocation request: no client
    authentication, valid Basic, valid form fields, a wrong secret, or an arbitrary header.

    Failed authentications come from another address, so that their throttling never hides
    what the authenticated requests would reach.
    """
    kind = draw(st.sampled_from(["none", "basic", "post", "wrong", "header"]))
    if kind == "basic":
        return flow.basic_auth(), [], "127.0.0.1"
    if kind == "post":
        return (
            {},
            [("client_id", flow.client_id), ("client_secret", flow.client_secret)],
            "127.0.0.1",
        )
    if kind == "wrong":
        secret = draw(st.text(min_size=1, max_size=40))
        return flow.basic_auth(client_secret=secret), [], "127.0.0.2"
    if kind == "header":
        return {"Authorization": draw(header_text)}, [], "127.0.0.2"
    return {}, [], "127.0.0.2"


def post_form(flow, path, auth, form):
    """POST `form` to `path` with the client authentication drawn for it."""
    headers, auth_fields, address = auth
    return flow.client.post(
        path,
        data=MultiDict(auth_fields + form),
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


@FUZZ
@given(data=st.data())
def test_token_endpoint_survives_any_form_and_stores_nothing(demo_app, flow, live_grant, data):
    auth = data.draw(client_authentications(flow))
    form = data.draw(token_forms(live_grant))
    before = stored_rows(demo_app)

    response = post_form(flow, "/token", auth, form)

    assert_not_a_server_error(response)
    assert response.mimetype == "application/json"
    assert "access_token" not in response.get_json()
    assert stored_rows(demo_app) == before


@FUZZ
@given(data=st.data())
def test_revocation_endpoint_survives_any_form(demo_app, flow, live_grant, data):
    auth = data.draw(client_authentications(flow))
    names = st.one_of(st.sampled_from(TOKEN_FIELDS), st.text(max_size=16))
    form = data.draw(st.lists(st.tuples(names, hostile_text), max_size=5))
    before = stored_rows(demo_app)

    response = post_form(flow, "/revoke", auth, form)

    assert_not_a_server_error(response)
    assert response.mimetype == "application/json"
    assert stored_rows(demo_app) == before


@FUZZ
@given(
    authorization=header_text,
    path=st.sampled_from(["/userinfo", "/api/profile", "/api/contacts"]),
)
def test_resource_server_survives_any_authorization_header(flow, authorization, path):
    response = flow.client.get(path, headers={"Authorization": authorization})

    assert_not_a_server_error(response)
    assert response.status_code in (401, 403)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@FUZZ
@given(
    fields=st.lists(
        st.tuples(st.sampled_from(["username", "password", "next", "csrf_token"]), hostile_text),
        max_size=6,
    ),
    with_csrf=st.booleans(),
)
def test_sign_in_form_survives_any_fields(demo_app, flow, fields, with_csrf):
    form = MultiDict(fields)
    if with_csrf:
        form.setlist(
            "csrf_token", [flow.csrf_token(flow.client.get("/login").get_data(as_text=True))]
        )
    before = stored_rows(demo_app)

    response = flow.client.post("/login", data=form)

    assert_not_a_server_error(response)
    location = response.headers.get("Location")
    if location is not None:
        # Never off the provider, whatever `next` said.
        assert location.startswith("/"), location
        assert not location.startswith(("//", "/\\")), location
    assert stored_rows(demo_app) == before


@FUZZ
@given(
    query=st.lists(
        st.tuples(
            st.sampled_from(
                ["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"]
            ),
            hostile_text,
        ),
        max_size=6,
    ),
)
def test_end_session_survives_any_query(demo_app, browsers, query):
    response = browsers[True].client.get("/end-session", query_string=query)

    assert_not_a_server_error(response)
    # Without a trusted hint naming the person, the provider asks instead of redirecting.
    assert "Location" not in response.headers


# Every endpoint a client or a browser talks to (there is no introspection endpoint), each with
# the method it expects and a plausible request, which the tests below garble.
CLIENT_ENDPOINTS = (
    ("/token", "POST", (("grant_type", "refresh_token"), ("refresh_token", "not-a-token"))),
    ("/token", "POST", (("grant_type", "authorization_code"), ("code", "not-a-code"))),
    ("/revoke", "POST", (("token", "not-a-token"), ("token_type_hint", "refresh_token"))),
    ("/userinfo", "GET", ()),
    ("/userinfo", "POST", ()),
    ("/api/profile", "GET", ()),
)
AUTHORIZATION_REQUEST = "the fixed authorization request"
BROWSER_ENDPOINTS = (
    ("/authorize", "GET", AUTHORIZATION_REQUEST),
    # The consent form's answer.
    ("/authorize", "POST", AUTHORIZATION_REQUEST),
    ("/end-session", "GET", (("client_id", "workshop-app"), ("state", "s"))),
    ("/end-session", "POST", (("client_id", "workshop-app"), ("state", "s"))),
    ("/end-session/confirm", "POST", (("decision", "sign-out"), ("client_id", "workshop-app"))),
    ("/login", "GET", (("next", "/authorize?x=1"),)),
    ("/login", "POST", (("username", "alice"), ("password", "not-the-password"))),
    ("/logout", "POST", ()),
    ("/connections", "GET", ()),
    ("/connections/workshop-app/revoke", "POST", ()),
)
ODD_METHODS = ("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
PARAMETERS = (
    *AUTHORIZE_PARAMETERS,
    *TOKEN_FIELDS,
    "username",
    "password",
    "next",
    "decision",
    "csrf_token",
    "post_logout_redirect_uri",
)
# Latin-1 text stands for arbitrary bytes: that is how WSGI hands header values to the app, so
# "\xc3\xa9" arrives as the UTF-8 bytes of "é" and "\xff" as a byte no UTF-8 text contains.
NASTY_HEADER_VALUES = ("\xff\xfe", "\xc3\xa9\xc3", "\x80", "\xed\xa0\x80", "é" * 40, "", " ")
raw_header = st.one_of(st.sampled_from(NASTY_HEADER_VALUES), header_text)
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=fuzz"
JSON = "application/json"
CONTENT_TYPES = (
    FORM,
    f"{FORM}; charset=latin-1",
    "multipart/form-data",
    MULTIPART,
    "multipart/form-data; boundary=\xff\xfe",
    JSON,
    "application/json; charset=\xff",
    "text/plain",
    "text/plain; charset=utf-16",
    "\xff/\xfe",
    None,
)


def _raw(value: str) -> bytes:
    """Text that fits in Latin-1 stands for those bytes (often not UTF-8); other text is UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


def _form_body(pairs) -> bytes:
    """An urlencoded body, its values as raw bytes."""
    return urlencode([(_raw(name), _raw(value)) for name, value in pairs]).encode("ascii")


def _multipart_body(pairs) -> bytes:
    """A multipart/form-data body with these fields (boundary "fuzz"), values as raw bytes."""
    parts = [
        b'--fuzz\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (_raw(name), _raw(value))
        for name, value in pairs
    ]
    return b"".join(parts) + b"--fuzz--\r\n"


@st.composite
def parameter_pairs(draw, base=()):
    """A plausible request's parameters with a few added and some names repeated with another
    value (which copy counts must never be a crash), in any order."""
    names = st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=12))
    pairs = [*base, *draw(st.lists(st.tuples(names, hostile_text), max_size=3))]
    if pairs and draw(st.booleans()):
        name = draw(st.sampled_from([name for name, _ in pairs]))
        pairs.append((name, draw(hostile_text)))
    return draw(st.permutations(pairs))


@st.composite
def query_strings(draw, base=()):
    """Parameters, sometimes followed by arbitrary bytes (not necessarily UTF-8 or escapes)."""
    query = urlencode(draw(parameter_pairs(base)))
    if draw(st.booleans()):
        query += "&" + quote_from_bytes(draw(st.binary(max_size=100)), safe="=&;+%")
    return query


@st.composite
def bodies(draw, base=()):
    """A Content-Type (or none) and a body: half the time of that type, else of another."""
    shape = draw(st.sampled_from(["form", "multipart", "json", "bytes", "none"]))
    matching = {"form": FORM, "multipart": MULTIPART, "json": JSON}.get(shape)
    content_type = draw(st.one_of(st.just(matching), st.sampled_from(CONTENT_TYPES)))
    pairs = draw(parameter_pairs(base))
    if shape == "form":
        return content_type, _form_body(pairs)
    if shape == "multipart":
        return content_type, _multipart_body(pairs)
    if shape == "json":
        return content_type, json.dumps(dict(pairs)).encode()
    if shape == "bytes":
        return content_type, draw(st.binary(max_size=300))
    return content_type, None


@st.composite
def authorizations(draw, flow):
    """An Authorization header: Basic and Bearer with any bytes, the real client's, or none."""
    kind = draw(st.sampled_from(["basic-text", "basic-bytes", "bearer", "client", "any", "none"]))
    if kind == "basic-text":
        scheme = draw(st.sampled_from(["Basic ", "basic ", "BASIC  "]))
        return scheme + draw(raw_header)
    if kind == "basic-bytes":
        return "Basic " + base64.b64encode(draw(st.binary(max_size=60))).decode("ascii")
    if kind == "bearer":
        return "Bearer " + draw(raw_header)
    if kind == "client":
        return flow.basic_auth()["Authorization"]
    if kind == "any":
        return draw(raw_header)
    return None


@pytest.fixture(params=[False, True], ids=["production-mode", "debug-mode"])
def any_mode_app(request, demo_app):
    """The provider with debug off, and on (where Flask re-raises what has no handler)."""
    demo_app.debug = request.param
    return demo_app


def assert_answered_without_a_traceback(response):
    assert_not_a_server_error(response)
    text = response.get_data().decode("utf-8", "replace")
    assert "Traceback" not in text
    assert "Werkzeug Debugger" not in text


def send_garbled(app, data, path, method, base, headers):
    """Send the request with its fields garbled, in the query (GET) or a drawn body (POST)."""
    if method == "GET":
        query, content_type, body = data.draw(query_strings(base), label="query"), None, None
    else:
        query = data.draw(query_strings(), label="query")
        content_type, body = data.draw(bodies(base), label="body")
    if content_type is not None:
        headers["Content-Type"] = content_type
    # A client without a cookie jar, so the Cookie header drawn is the one sent.
    client = app.test_client(use_cookies=False)
    return client.open(path, method=method, query_string=query, headers=headers, data=body)


@FUZZ
@given(data=st.data())
def test_client_endpoints_survive_any_authorization_header_and_body(any_mode_app, flow, data):
    path, method, base = data.draw(st.sampled_from(CLIENT_ENDPOINTS), label="endpoint")
    headers = {}
    authorization = data.draw(authorizations(flow), label="authorization")
    if authorization is not None:
        headers["Authorization"] = authorization

    response = send_garbled(any_mode_app, data, path, method, base, headers)

    assert_answered_without_a_traceback(response)


@pytest.fixture
def signed_in_session(any_mode_app, flow_for):
    """The Cookie header and a matching CSRF token of a browser signed in as alice."""
    browser = flow_for(any_mode_app.test_client())
    browser.sign_in()
    token = browser.csrf_token(browser.client.get("/login").get_data(as_text=True))
    cookie = browser.client.get_cookie("demo_provider_session").value
    return f"demo_provider_session={cookie}", token


@FUZZ
@given(data=st.data())
def test_browser_endpoints_survive_any_cookie_and_body(any_mode_app, flow, signed_in_session, data):
    cookie, csrf_token = signed_in_session
    path, method, base = data.draw(st.sampled_from(BROWSER_ENDPOINTS), label="endpoint")
    if base == AUTHORIZATION_REQUEST:
        base = tuple(fixed_authorize_params(flow).items())
    session = data.draw(st.sampled_from(["signed-in", "none", "garbled", "both"]), label="session")
    cookies = []
    if session in ("signed-in", "both"):
        cookies.append(cookie)
        if method == "POST" and data.draw(st.booleans(), label="with csrf token"):
            # The valid CSRF token, so that forms get past the check to the code behind it.
            base = (*base, ("csrf_token", csrf_token))
    if session in ("garbled", "both"):
        cookies.append("demo_provider_session=" + data.draw(raw_header, label="cookie"))
    headers = {"Cookie": "; ".join(cookies)} if cookies else {}
    if data.draw(st.booleans(), label="with authorization"):
        headers["Authorization"] = data.draw(authorizations(flow), label="authorization") or ""

    response = send_garbled(any_mode_app, data, path, method, base, headers)

    assert_answered_without_a_traceback(response)


ALL_ENDPOINTS = sorted({(path, method) for path, method, _ in CLIENT_ENDPOINTS + BROWSER_ENDPOINTS})


def test_every_endpoint_answers_odd_methods_with_garbled_headers(any_mode_app):
    client = any_mode_app.test_client(use_cookies=False)
    headers = {
        "Authorization": "Basic \xff\xfe",
        "Cookie": "demo_provider_session=\xc3\xa9\xff",
        "Content-Type": "multipart/form-data; boundary=\xff",
    }
    for path in sorted({path for path, _ in ALL_ENDPOINTS}):
        for method in ODD_METHODS:
            response = client.open(path, method=method, headers=headers, data=b"\xff\xfe=\x80")

            assert_answered_without_a_traceback(response)
            if method not in ("OPTIONS", "HEAD"):
                # No endpoint takes these; HEAD is a GET without the body where GET is allowed.
                assert response.status_code == 405, (path, method)


# Built once. (Long non-ASCII values come from `hostile_text`: escaped, a megabyte of them
# would take the test client seconds to decode.)
MEGABYTE = "A" * 1_000_000


def test_every_endpoint_answers_a_megabyte_parameter(any_mode_app, flow):
    client = any_mode_app.test_client(use_cookies=False)
    value = MEGABYTE
    for path, method in ALL_ENDPOINTS:
        if method == "GET":
            # In the parameter each GET endpoint reads first (end-session reads them all).
            name = {"/login": "next", "/authorize": "client_id"}.get(path, "state")
            response = client.get(path, query_string={name: value})
            assert_answered_without_a_traceback(response)
        else:
            response = client.post(path, data={"token": value}, headers=flow.basic_auth())
            assert_answered_without_a_traceback(response)
            # Refused for its size, unless refused sooner for a missing bearer token.
            assert response.status_code in (413, 401), path


@pytest.mark.parametrize(
    "raw", ["\x80", "next=\xff\xfe", "state=%ff&\xc3(", "next=/\r\nSet-Cookie: x=1", "a=\x00"]
)
def test_every_endpoint_refuses_a_query_string_that_is_not_utf8_or_has_controls(any_mode_app, raw):
    client = any_mode_app.test_client(use_cookies=False)
    for path, method in ALL_ENDPOINTS:
        # Raw bytes as a server passes them on: latin-1 characters in the WSGI environ.
        response = client.open(path, method=method, environ_overrides={"QUERY_STRING": raw})
        assert_answered_without_a_traceback(response)
        assert response.status_code == 400, (path, method)
