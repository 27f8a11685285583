"""Property-based tests: hostile input at the demo provider's authorization, token, revocation and
resource endpoints never causes a server error, never sends the browser to an unregistered
address, and never stores a code or token.
"""

from urllib.parse import quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from demo_provider.extensions import db
from demo_provider.models import AuthorizationCode, Grant, Token

FUZZ = settings(
    max_examples=150,
    deadline=None,
    # The same examples on every run, and no example database written into the checkout.
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

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
@given(authorization=header_text, path=st.sampled_from(["/userinfo", "/api/profile"]))
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
