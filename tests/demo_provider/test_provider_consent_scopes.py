"""Consent that changes, at the demo provider: the person allows scope by scope (openid fixed),
the token response says exactly what was granted, the contacts API answers insufficient_scope
to a token without `contacts.read`, `include_granted_scopes=true` adds a new grant to what the
person allowed before (also when pushed), and taking one scope back on the connected
applications page narrows the tokens the client already holds and its next refresh."""

from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.datastructures import MultiDict

from demo_provider import models
from tests.fuzzing import fuzz_settings

TOKEN_URL = "http://127.0.0.1:5001/token"
CONTACTS_URL = "http://127.0.0.1:5001/api/contacts"
CONTACTS = "contacts.read"
INSUFFICIENT_CONTACTS = 'error="insufficient_scope", scope="contacts.read"'
ALICE_CONTACTS = [
    {"name": "White Rabbit", "email": "white.rabbit@example.org"},
    {"name": "Cheshire Cat", "email": "cheshire.cat@example.org"},
    {"name": "Mad Hatter", "email": "hatter@example.org"},
]


class ScopeLines(HTMLParser):
    """Each scope line of a page as a person sees it: the scope's name, the line's text, and
    its checkbox (None when it has none, else whether it is ticked)."""

    def __init__(self):
        super().__init__()
        self.lines: dict[str, dict] = {}
        self._line = None
        self._in_name = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "li":
            self._line = {"text": "", "checkbox": None, "name": ""}
        elif self._line is None:
            return
        elif tag == "code" and "scope-name" in (attributes.get("class") or ""):
            self._in_name = True
        elif tag == "input" and attributes.get("type") == "checkbox":
            self._line["checkbox"] = "checked" in attributes
            self._line["field"] = (attributes.get("name"), attributes.get("value"))

    def handle_data(self, data):
        if self._line is not None:
            self._line["text"] += data
            if self._in_name:
                self._line["name"] += data

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_name = False
        elif tag == "li" and self._line is not None:
            self._line["text"] = " ".join(self._line["text"].split())
            self.lines[self._line["name"]] = self._line
            self._line = None


def scope_lines(html):
    parser = ScopeLines()
    parser.feed(html)
    return parser.lines


def consent_lines(flow, params):
    page = flow.client.get("/authorize", query_string=params)
    assert page.status_code == 200, page.get_data(as_text=True)
    return scope_lines(page.get_data(as_text=True))


def tokens_ticking(flow, ticked, scope=None, **overrides):
    """Sign in as alice, allow with only `ticked` boxes ticked, redeem; the token response."""
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge, scope=scope or flow.full_scope, **overrides)
    flow.sign_in()
    answer = flow.decide(params, ticked=ticked)
    code = flow.query(answer.headers["Location"])["code"]
    response = flow.redeem(code, verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def allow(flow, params, verifier, ticked=None):
    """Allow `params` on the consent page (boxes as shown unless `ticked`), redeem the code."""
    answer = flow.decide(params, ticked=ticked)
    query = flow.query(answer.headers["Location"])
    assert "code" in query, query
    response = flow.redeem(query["code"], verifier)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def incremental(flow, scope="openid contacts.read", **overrides):
    """A request for more, with include_granted_scopes=true; returns (params, verifier)."""
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(
        challenge, scope=scope, include_granted_scopes="true", **overrides
    )
    return params, verifier


def scope_set(body):
    return set(body["scope"].split())


def id_token_claims(flow, body):
    keys = KeySet.import_key_set(flow.client.get("/jwks.json").get_json())
    return jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims


def dpop_tokens(flow, key, scope):
    code, verifier, _ = flow.obtain_code(scope=scope)
    response = flow.redeem(code, verifier, dpop=key.proof("POST", TOKEN_URL))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def dpop_contacts(flow, key, access_token):
    proof = key.proof("GET", CONTACTS_URL, access_token=access_token)
    return flow.dpop_call("/api/contacts", access_token, proof)


# The consent page, scope by scope.


def test_consent_page_has_a_ticked_checkbox_for_each_scope_but_openid(flow):
    flow.sign_in()

    lines = consent_lines(flow, flow.authorize_params(scope=f"{flow.full_scope} {CONTACTS}"))

    assert lines["openid"]["checkbox"] is None
    assert "always included" in lines["openid"]["text"]
    for name in ("profile", "email", "offline_access", CONTACTS):
        assert lines[name]["checkbox"] is True, name
        assert lines[name]["field"] == ("granted_scope", name)
    assert "See your contacts" in lines[CONTACTS]["text"]


def test_consent_page_offers_only_what_was_requested(flow):
    flow.sign_in()

    lines = consent_lines(flow, flow.authorize_params(scope="openid profile"))

    assert set(lines) == {"openid", "profile"}


def test_allowing_everything_grants_the_whole_request(flow):
    body, _ = flow.tokens()

    assert body["scope"] == flow.full_scope


def test_unticking_email_leaves_it_out_of_the_token_response_and_the_claims(flow):
    body = tokens_ticking(flow, ["profile", "offline_access"])

    assert body["scope"] == "openid profile offline_access"
    claims = flow.userinfo(body["access_token"]).get_json()
    assert claims["name"] == "Alice Liddell"
    assert "email" not in claims
    assert "email" not in id_token_claims(flow, body)
    assert "email" not in flow.profile_api(body["access_token"]).get_json()


def test_unticking_offline_access_issues_no_refresh_token(flow):
    body = tokens_ticking(flow, ["profile", "email"])

    assert body["scope"] == "openid profile email"
    assert "refresh_token" not in body


def test_allowing_with_nothing_ticked_grants_openid_alone(flow):
    body = tokens_ticking(flow, [])

    assert body["scope"] == "openid"
    assert flow.userinfo(body["access_token"]).get_json().keys() == {"sub"}
    assert flow.profile_api(body["access_token"]).status_code == 403


def test_allowing_nothing_at_all_is_access_denied(flow):
    flow.sign_in()
    params = flow.authorize_params(scope="profile email", nonce=None)

    answer = flow.query(flow.decide(params, ticked=[]).headers["Location"])

    assert answer["error"] == "access_denied"
    assert "code" not in answer
    assert answer["state"] == params["state"]


def test_a_ticked_scope_that_was_not_requested_is_not_granted(flow):
    body = tokens_ticking(flow, ["profile", "email", CONTACTS, "admin"], scope="openid profile")

    assert body["scope"] == "openid profile"
    assert flow.contacts_api(body["access_token"]).status_code == 403


def test_the_client_cannot_tick_boxes_for_the_person_through_its_request(flow):
    flow.sign_in()
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge, granted_scope="email")
    form = flow.consent_form(params)
    # The person unticks the e-mail box: the browser leaves out that box's field (the last one
    # of that name, since the page's checkboxes follow its hidden fields).
    fields = list(form["fields"])
    fields.reverse()
    fields.remove(("granted_scope", "email"))
    fields.reverse()

    answer = flow.client.post(form["action"], data=MultiDict([*fields, ("decision", "allow")]))

    code = flow.query(answer.headers["Location"])["code"]
    body = flow.redeem(code, verifier).get_json()
    assert body["scope"] == "openid profile offline_access"


def test_refresh_answers_the_scope_that_was_granted(flow):
    body = tokens_ticking(flow, ["profile", "offline_access"])

    refreshed = flow.refresh(body["refresh_token"]).get_json()

    assert refreshed["scope"] == "openid profile offline_access"
    assert "email" not in flow.userinfo(refreshed["access_token"]).get_json()


def test_refresh_cannot_widen_to_a_scope_the_person_unticked(flow):
    body = tokens_ticking(flow, ["profile", "offline_access"])

    response = flow.refresh(body["refresh_token"], scope=flow.full_scope)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_refresh_may_narrow_and_says_so(flow):
    body, _ = flow.tokens()

    response = flow.refresh(body["refresh_token"], scope="openid  openid offline_access")

    assert response.get_json()["scope"] == "openid offline_access"


@pytest.mark.parametrize(
    "ticked",
    [
        [""],
        ["admin"],
        ["profile email"],
        ["openid"],
        ["\x00", "\u202e", "é"],
        ["profile"] * 50,
        ["x" * 5000],
    ],
    ids=["empty", "unknown", "two-in-one", "openid", "control", "repeated", "huge"],
)
def test_odd_consent_answers_grant_only_requested_scopes(flow, ticked):
    flow.sign_in()
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge, scope="openid profile")

    body = allow(flow, params, verifier, ticked=ticked)

    assert scope_set(body) <= {"openid", "profile"}
    assert "openid" in scope_set(body)


FUZZ = fuzz_settings(max_examples=25)
consent_values = st.one_of(
    st.sampled_from(["openid", "profile", "email", "offline_access", CONTACTS, "admin", ""]),
    st.text(max_size=40),
)


@FUZZ
@given(
    extra=st.lists(
        st.tuples(st.sampled_from(["granted_scope", "decision", "scope"]), consent_values),
        max_size=6,
    )
)
def test_consent_form_survives_any_fields_and_grants_nothing_unrequested(flow, extra):
    flow.sign_in()
    form = flow.consent_form(flow.authorize_params(scope="openid profile offline_access"))

    fields = [item for item in form["fields"] if item[0] != "granted_scope"]
    response = flow.client.post(form["action"], data=MultiDict([*fields, *extra]))

    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    location = response.headers.get("Location", "")
    assert location.startswith(flow.redirect_uri + "?") or response.status_code == 400


# The contacts API.


def test_contacts_api_returns_the_persons_contacts(flow):
    body, _ = flow.tokens(scope=f"openid {CONTACTS}")

    response = flow.contacts_api(body["access_token"])

    assert response.status_code == 200
    assert response.get_json() == {"contacts": ALICE_CONTACTS}


def test_contacts_api_returns_other_contacts_for_bob(flow):
    body, _ = flow.tokens(scope=f"openid {CONTACTS}", username="bob", password="builder")

    contacts = flow.contacts_api(body["access_token"]).get_json()["contacts"]

    assert contacts
    assert {"name", "email"} == set().union(*(contact.keys() for contact in contacts))
    assert not {contact["email"] for contact in contacts} & {c["email"] for c in ALICE_CONTACTS}


def test_contacts_api_without_contacts_read_is_403_naming_the_scope(flow):
    body, _ = flow.tokens()

    response = flow.contacts_api(body["access_token"])

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == f"Bearer {INSUFFICIENT_CONTACTS}"
    assert response.get_json()["error"] == "insufficient_scope"
    assert "contacts" not in response.get_json()


def test_contacts_api_without_a_token_gets_a_bare_bearer_challenge(flow):
    response = flow.client.get("/api/contacts")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_contacts_api_with_a_dpop_bound_token_and_a_proof(flow, client_key):
    body = dpop_tokens(flow, client_key, f"openid {CONTACTS}")

    response = dpop_contacts(flow, client_key, body["access_token"])

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"contacts": ALICE_CONTACTS}


def test_contacts_api_with_a_dpop_bound_token_without_contacts_read_is_403(flow, client_key):
    body = dpop_tokens(flow, client_key, flow.full_scope)

    response = dpop_contacts(flow, client_key, body["access_token"])

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == f"DPoP {INSUFFICIENT_CONTACTS}"
    assert response.get_json()["error"] == "insufficient_scope"


# include_granted_scopes=true: asking for more later.


def test_incremental_consent_shows_earlier_scopes_as_already_allowed(flow):
    flow.tokens()
    params, _ = incremental(flow)

    lines = consent_lines(flow, params)

    for name in ("openid", "profile", "email", "offline_access"):
        assert lines[name]["checkbox"] is None, name
        assert "already allowed" in lines[name]["text"], name
    assert lines[CONTACTS]["checkbox"] is True


def test_incremental_consent_grants_the_union(flow):
    flow.tokens()
    params, verifier = incremental(flow)

    body = allow(flow, params, verifier)

    assert scope_set(body) == {*flow.full_scope.split(), CONTACTS}
    assert body["refresh_token"]
    assert flow.contacts_api(body["access_token"]).status_code == 200
    assert flow.profile_api(body["access_token"]).get_json()["email"] == "alice@example.org"


def test_incremental_consent_survives_refresh(flow):
    flow.tokens()
    params, verifier = incremental(flow)
    body = allow(flow, params, verifier)

    refreshed = flow.refresh(body["refresh_token"]).get_json()

    assert scope_set(refreshed) == {*flow.full_scope.split(), CONTACTS}


def test_unticking_the_new_scope_keeps_only_the_earlier_ones(flow):
    flow.tokens(scope="openid profile")
    params, verifier = incremental(flow, scope=f"openid {CONTACTS} email")

    body = allow(flow, params, verifier, ticked=["email"])

    assert scope_set(body) == {"openid", "profile", "email"}


def test_without_include_granted_scopes_the_grant_is_only_the_new_one(flow):
    flow.tokens()
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge, scope=f"openid {CONTACTS}")

    lines = consent_lines(flow, params)
    body = allow(flow, params, verifier)

    assert set(lines) == {"openid", CONTACTS}
    assert body["scope"] == f"openid {CONTACTS}"
    assert "refresh_token" not in body


@pytest.mark.parametrize("value", ["false", "1", "yes", "TRUE", ""])
def test_include_granted_scopes_other_than_true_includes_nothing(flow, value):
    flow.tokens()
    params, verifier = incremental(flow)
    params["include_granted_scopes"] = value

    body = allow(flow, params, verifier)

    assert body["scope"] == f"openid {CONTACTS}"


def test_incremental_consent_carries_earlier_scopes_without_openid_unless_asked(flow):
    flow.tokens()
    params, verifier = incremental(flow, scope=CONTACTS, nonce=None)

    body = allow(flow, params, verifier)

    assert scope_set(body) == {"profile", "email", "offline_access", CONTACTS}
    assert "id_token" not in body


def test_incremental_consent_through_par(flow):
    flow.tokens()
    params, verifier = incremental(flow)
    pushed = flow.push(params)
    assert pushed.status_code == 201, pushed.get_data(as_text=True)
    reference = {"client_id": flow.client_id, "request_uri": pushed.get_json()["request_uri"]}

    lines = consent_lines(flow, reference)
    body = allow(flow, reference, verifier)

    assert "already allowed" in lines["profile"]["text"]
    assert lines[CONTACTS]["checkbox"] is True
    assert scope_set(body) == {*flow.full_scope.split(), CONTACTS}


def test_include_granted_scopes_beside_a_pushed_request_is_ignored(flow):
    flow.tokens()
    verifier, challenge = flow.pkce_pair()
    pushed = flow.push(flow.authorize_params(challenge, scope=f"openid {CONTACTS}"))
    reference = {
        "client_id": flow.client_id,
        "request_uri": pushed.get_json()["request_uri"],
        "include_granted_scopes": "true",
    }

    body = allow(flow, reference, verifier)

    assert body["scope"] == f"openid {CONTACTS}"


def test_denying_more_leaves_the_earlier_tokens_working(flow):
    earlier, _ = flow.tokens()
    params, _ = incremental(flow)

    answer = flow.query(flow.decide(params, "deny").headers["Location"])

    assert answer["error"] == "access_denied"
    assert flow.profile_api(earlier["access_token"]).status_code == 200
    refreshed = flow.refresh(earlier["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.get_json()["scope"] == flow.full_scope


def test_incremental_consent_leaves_out_revoked_grants(flow):
    flow.tokens()
    flow.revoke_connection(flow.client_id)
    params, verifier = incremental(flow)

    body = allow(flow, params, verifier)

    assert body["scope"] == f"openid {CONTACTS}"


def test_incremental_consent_leaves_out_grants_whose_tokens_all_expired(flow, monkeypatch):
    flow.tokens(scope="openid profile")
    later = models.epoch_now() + flow.client.application.config["DEMO_PROVIDER_ACCESS_TOKEN_TTL"]
    params, _ = incremental(flow)
    with monkeypatch.context() as clock:
        clock.setattr(models, "epoch_now", lambda: later + 1)

        lines = consent_lines(flow, params)

    assert "already allowed" not in lines["openid"]["text"]
    assert "profile" not in lines


def test_incremental_consent_leaves_out_another_persons_grants(flow):
    flow.tokens()
    flow.sign_in("bob", "builder")
    params, verifier = incremental(flow)

    lines = consent_lines(flow, params)
    body = allow(flow, params, verifier)

    assert not any("already allowed" in line["text"] for line in lines.values())
    assert body["scope"] == f"openid {CONTACTS}"


def test_incremental_consent_leaves_out_another_clients_grants(flow):
    flow.tokens(
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
        redirect_uri=flow.other_redirect_uri,
        scope="openid profile email",
    )
    params, verifier = incremental(flow)

    body = allow(flow, params, verifier)

    assert body["scope"] == f"openid {CONTACTS}"


# Taking one scope back on the connected applications page.


def remove_buttons(flow):
    """The (action, scope) of each Remove form on the connections page."""
    html = flow.connections_page().get_data(as_text=True)
    return {
        (form["action"], dict(form["fields"])["scope"])
        for form in flow.forms(html)
        if form["action"].endswith("/scopes/remove")
    }


def test_connections_page_has_a_remove_button_for_each_scope_but_openid(flow):
    flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")

    buttons = remove_buttons(flow)

    action = f"/connections/{flow.client_id}/scopes/remove"
    assert buttons == {(action, name) for name in ("profile", "email", "offline_access", CONTACTS)}


def test_removing_contacts_read_makes_the_held_token_insufficient_scope(flow):
    body, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")
    assert flow.contacts_api(body["access_token"]).status_code == 200

    response = flow.remove_scope(flow.client_id, CONTACTS)

    assert response.status_code == 303
    assert response.headers["Location"] == "/connections"
    refused = flow.contacts_api(body["access_token"])
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"] == f"Bearer {INSUFFICIENT_CONTACTS}"
    assert flow.profile_api(body["access_token"]).status_code == 200


def test_removing_a_scope_narrows_the_next_refresh(flow):
    body, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")
    flow.remove_scope(flow.client_id, CONTACTS)

    refreshed = flow.refresh(body["refresh_token"])

    assert refreshed.status_code == 200
    assert refreshed.get_json()["scope"] == flow.full_scope
    assert flow.contacts_api(refreshed.get_json()["access_token"]).status_code == 403


def test_refresh_asking_again_for_a_removed_scope_is_invalid_scope(flow):
    body, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")
    flow.remove_scope(flow.client_id, CONTACTS)

    response = flow.refresh(body["refresh_token"], scope=f"openid offline_access {CONTACTS}")

    assert response.get_json()["error"] == "invalid_scope"


def test_removing_contacts_read_from_a_dpop_bound_token_is_insufficient_scope(flow, client_key):
    body = dpop_tokens(flow, client_key, f"openid offline_access {CONTACTS}")

    flow.remove_scope(flow.client_id, CONTACTS)

    response = dpop_contacts(flow, client_key, body["access_token"])
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == f"DPoP {INSUFFICIENT_CONTACTS}"


def test_removing_email_takes_the_claim_out_of_userinfo(flow):
    body, _ = flow.tokens()

    flow.remove_scope(flow.client_id, "email")

    claims = flow.userinfo(body["access_token"]).get_json()
    assert "email" not in claims
    assert claims["name"] == "Alice Liddell"


def test_removing_a_scope_is_listed_no_more_and_says_so(flow):
    flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")

    response = flow.remove_scope(flow.client_id, CONTACTS)

    html = flow.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Workshop App can no longer see your contacts." in html
    assert CONTACTS not in scope_lines(html)
    assert "profile" in scope_lines(html)


def test_removing_a_scope_narrows_every_grant_of_that_client(flow):
    first, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")
    second, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")

    flow.remove_scope(flow.client_id, CONTACTS)

    assert flow.contacts_api(first["access_token"]).status_code == 403
    assert flow.contacts_api(second["access_token"]).status_code == 403


def test_removing_a_scope_narrows_a_code_not_yet_redeemed(flow):
    code, verifier, _ = flow.obtain_code(scope=f"openid {CONTACTS}")

    flow.remove_scope(flow.client_id, CONTACTS)

    body = flow.redeem(code, verifier).get_json()
    assert body["scope"] == "openid"
    assert flow.contacts_api(body["access_token"]).status_code == 403


def test_removing_offline_access_stops_refresh_but_not_the_access_token(flow):
    body, _ = flow.tokens()

    flow.remove_scope(flow.client_id, "offline_access")

    response = flow.refresh(body["refresh_token"])
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert flow.profile_api(body["access_token"]).status_code == 200


def test_removing_the_last_optional_scope_leaves_the_sign_in(flow):
    body, _ = flow.tokens(scope="openid profile")

    response = flow.remove_scope(flow.client_id, "profile")

    assert response.status_code == 303
    assert flow.userinfo(body["access_token"]).get_json().keys() == {"sub"}
    assert flow.profile_api(body["access_token"]).status_code == 403
    assert "Workshop App" in flow.connections_page().get_data(as_text=True)


def test_removing_the_only_scope_of_a_grant_without_openid_ends_it(flow):
    code, verifier, _ = flow.obtain_code(scope="profile", nonce=None)
    body = flow.redeem(code, verifier).get_json()

    flow.remove_scope(flow.client_id, "profile")

    assert flow.profile_api(body["access_token"]).status_code == 401
    html = flow.connections_page().get_data(as_text=True)
    assert "No application can use your account right now." in html


def test_removing_a_scope_leaves_other_clients_alone(flow):
    other, _ = flow.tokens(
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
        redirect_uri=flow.other_redirect_uri,
        scope=f"openid {CONTACTS}",
    )
    flow.tokens(scope=f"openid {CONTACTS}")

    flow.remove_scope(flow.client_id, CONTACTS)

    assert flow.contacts_api(other["access_token"]).status_code == 200


def test_removing_a_scope_requires_a_csrf_token(flow):
    body, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")

    response = flow.remove_scope(flow.client_id, CONTACTS, with_csrf=False)

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert flow.contacts_api(body["access_token"]).status_code == 200


def test_removing_a_scope_is_post_only(flow):
    flow.tokens()

    response = flow.client.get(f"/connections/{flow.client_id}/scopes/remove?scope=email")

    assert response.status_code == 405


def test_removing_a_scope_while_signed_out_sends_the_visitor_to_sign_in(flow):
    response = flow.remove_scope(flow.client_id, "email")

    assert response.status_code == 303
    assert flow.query(response.headers["Location"]) == {"next": "/connections"}


def test_another_persons_scope_cannot_be_removed(flow):
    alice, _ = flow.tokens(scope=f"{flow.full_scope} {CONTACTS}")
    flow.sign_in("bob", "builder")

    response = flow.remove_scope(flow.client_id, CONTACTS)

    assert response.status_code == 404
    assert flow.contacts_api(alice["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("client_id", "fields", "status"),
    [
        ("workshop-app", [], 400),
        ("workshop-app", [("scope", "")], 400),
        ("workshop-app", [("scope", "email"), ("scope", "profile")], 400),
        ("workshop-app", [("scope", "openid")], 400),
        ("workshop-app", [("scope", "contacts.read")], 404),
        ("workshop-app", [("scope", "admin")], 404),
        ("workshop-app", [("scope", "email profile")], 404),
        ("workshop-app", [("scope", "\x00\u202e")], 404),
        ("workshop-app", [("scope", "e" * 10000)], 404),
        ("no-such-client", [("scope", "email")], 404),
        ("%00", [("scope", "email")], 404),
    ],
    ids=[
        "missing",
        "empty",
        "two",
        "openid",
        "not-granted",
        "unknown",
        "two-in-one",
        "control",
        "huge",
        "unknown-client",
        "odd-client",
    ],
)
def test_odd_removals_are_refused_and_change_nothing(flow, client_id, fields, status):
    body, _ = flow.tokens()
    token = flow.csrf_token(flow.client.get("/login").get_data(as_text=True))

    response = flow.client.post(
        f"/connections/{client_id}/scopes/remove",
        data=MultiDict([("csrf_token", token), *fields]),
    )

    assert response.status_code == status
    assert flow.userinfo(body["access_token"]).get_json()["email"] == "alice@example.org"
    assert flow.refresh(body["refresh_token"]).get_json()["scope"] == flow.full_scope
