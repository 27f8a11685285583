"""OpenID Connect Back-Channel Logout 1.0 at the demo provider: ID tokens name the provider
session (`sid`), and when that session ends (sign-out, RP-initiated logout, revoking an
application) each client that took part receives a signed logout token at its registered
`backchannel_logout_uri`, here a small receiver live on 127.0.0.1, without the person waiting.
"""

from __future__ import annotations

import copy
import logging
import shutil
import socket
import threading
import time
from dataclasses import dataclass

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import text
from werkzeug.wrappers import Request, Response

from demo_provider import backchannel, create_app, prepare, settings
from demo_provider.extensions import db
from demo_provider.models import Client
from tests.live_provider import LiveServer

MAIN_PATH = "/backchannel-logout/workshop"
OTHER_PATH = "/backchannel-logout/other"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]


class Receiver:
    """The clients' back-channel logout endpoints: records every POST and answers 200, except on
    paths told to hang, which wait until released."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[Received] = []
        self.hanging: set[str] = set()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
        self.hanging.clear()
        for event in (self.entered, self.release, self.returned):
            event.clear()

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path in self.hanging:
            self.entered.set()
            self.release.wait(10)
            self.returned.set()
        with self._lock:
            self.received.append(
                Received(request.path, request.mimetype, request.form.to_dict(flat=False))
            )
        return Response("", 200)(environ, start_response)

    def tokens(self, path: str) -> list[str]:
        with self._lock:
            return [item.form["logout_token"][0] for item in self.received if item.path == path]


@pytest.fixture(scope="module")
def live_receiver():
    receiver = Receiver()
    server = LiveServer(receiver).start()
    receiver.url = server.url
    yield receiver
    receiver.release.set()
    server.stop()


@pytest.fixture
def receiver(live_receiver):
    live_receiver.reset()
    yield live_receiver
    # A hanging delivery is let go, so nothing outlives its test.
    live_receiver.release.set()


@pytest.fixture
def demo_config(demo_config, receiver):
    """Both configured clients registered for back-channel logout at the receiver."""
    main, other = demo_config["DEMO_PROVIDER_CLIENTS"]
    main["backchannel_logout_uri"] = receiver.url + MAIN_PATH
    other["backchannel_logout_uri"] = receiver.url + OTHER_PATH
    return demo_config


@pytest.fixture
def provider_with(demo_config, prepared_instance, tmp_path, flow_for):
    """Builds a provider whose configuration `change` altered, and returns its app and a flow."""

    def build(change):
        config = copy.deepcopy(demo_config)
        change(config)
        instance = tmp_path / "changed-instance"
        shutil.copytree(prepared_instance, instance)
        app = create_app(config, instance_path=str(instance))
        prepare(app)
        return app, flow_for(app.test_client())

    return build


def closed_port_url(path: str) -> str:
    """An address on 127.0.0.1 where nothing listens (a client that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def tokens_in_this_session(flow, client_id, client_secret, redirect_uri):
    """Consent and redeem a code for a client in the session the flow is signed in with."""
    verifier, challenge = flow.pkce_pair()
    params = flow.authorize_params(challenge, client_id=client_id, redirect_uri=redirect_uri)
    response = flow.decide(params)
    code = flow.query(response.headers["Location"])["code"]
    answer = flow.redeem(
        code, verifier, redirect_uri=redirect_uri, client_id=client_id, client_secret=client_secret
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def both_clients_signed_in(flow):
    """Sign in once and give both configured clients an ID token in that session."""
    flow.sign_in()
    main = tokens_in_this_session(flow, flow.client_id, flow.client_secret, flow.redirect_uri)
    other = tokens_in_this_session(
        flow, flow.other_client_id, flow.other_client_secret, flow.other_redirect_uri
    )
    return main, other


def sign_out(flow):
    """Press "Sign out" at the provider."""
    page = flow.client.get("/login").get_data(as_text=True)
    return flow.client.post("/logout", data={"csrf_token": flow.csrf_token(page)})


def verified(flow, token):
    """The token's header and claims, its signature checked with the provider's JWKS."""
    keys = KeySet.import_key_set(flow.client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return decoded.header, dict(decoded.claims)


def test_discovery_advertises_back_channel_logout_with_sessions(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


def test_id_tokens_name_the_provider_session(flow):
    body, _ = flow.tokens()

    _, claims = verified(flow, body["id_token"])

    assert isinstance(claims["sid"], str)
    assert len(claims["sid"]) >= 22  # 128 random bits, base64url


def test_two_browsers_get_different_sessions(demo_app, flow, flow_for):
    first, _ = flow.tokens()
    second, _ = flow_for(demo_app.test_client()).tokens()

    assert (
        verified(flow, first["id_token"])[1]["sid"] != verified(flow, second["id_token"])[1]["sid"]
    )


def test_one_session_gives_every_client_the_same_sid(flow):
    main, other = both_clients_signed_in(flow)

    assert verified(flow, main["id_token"])[1]["sid"] == verified(flow, other["id_token"])[1]["sid"]


def test_signing_in_again_as_the_same_person_keeps_the_session(flow):
    first, _ = flow.tokens()
    again, _ = flow.tokens()  # signs in again on the same browser

    assert (
        verified(flow, first["id_token"])[1]["sid"] == verified(flow, again["id_token"])[1]["sid"]
    )


def test_a_refreshed_id_token_keeps_the_sid_of_its_sign_in(flow):
    body, _ = flow.tokens()

    refreshed = flow.refresh(body["refresh_token"]).get_json()

    assert (
        verified(flow, refreshed["id_token"])[1]["sid"]
        == (verified(flow, body["id_token"])[1]["sid"])
    )


def test_a_session_signed_in_before_sessions_had_ids_gets_one(flow):
    flow.sign_in()
    with flow.client.session_transaction() as cookie:
        del cookie["sid"]

    body = tokens_in_this_session(flow, flow.client_id, flow.client_secret, flow.redirect_uri)

    assert verified(flow, body["id_token"])[1]["sid"]


def test_signing_out_sends_each_participating_client_one_logout_token(demo_app, flow, receiver):
    main, other = both_clients_signed_in(flow)

    response = sign_out(flow)
    backchannel.sender(demo_app).flush()

    assert response.status_code == 303
    assert {item.content_type for item in receiver.received} == {
        "application/x-www-form-urlencoded"
    }
    tokens = {MAIN_PATH: receiver.tokens(MAIN_PATH), OTHER_PATH: receiver.tokens(OTHER_PATH)}
    assert [len(sent) for sent in tokens.values()] == [1, 1]
    id_tokens = {MAIN_PATH: main["id_token"], OTHER_PATH: other["id_token"]}
    jtis = set()
    for path, (logout_token,) in tokens.items():
        header, claims = verified(flow, logout_token)
        _, id_claims = verified(flow, id_tokens[path])
        assert header["typ"] == "logout+jwt"
        assert header["alg"] == "RS256"
        assert claims["iss"] == flow.issuer
        assert claims["aud"] == id_claims["aud"]
        assert claims["sub"] == id_claims["sub"]
        assert claims["sid"] == id_claims["sid"]
        assert claims["events"] == {EVENT: {}}
        assert claims["exp"] - claims["iat"] == 120
        assert abs(claims["iat"] - time.time()) < 60
        assert "nonce" not in claims
        jtis.add(claims["jti"])
    assert len(jtis) == 2


def test_signing_out_twice_tells_nobody_again(demo_app, flow, receiver):
    both_clients_signed_in(flow)
    sign_out(flow)
    backchannel.sender(demo_app).flush()
    flow.sign_in()

    sign_out(flow)
    backchannel.sender(demo_app).flush()

    assert len(receiver.received) == 2


def test_signing_in_as_someone_else_ends_the_previous_persons_session(demo_app, flow, receiver):
    body, _ = flow.tokens()

    flow.sign_in("bob", "builder")
    backchannel.sender(demo_app).flush()

    (logout_token,) = receiver.tokens(MAIN_PATH)
    assert verified(flow, logout_token)[1]["sid"] == verified(flow, body["id_token"])[1]["sid"]


def test_rp_initiated_logout_tells_every_client_including_the_one_that_asked(
    demo_app, flow, receiver
):
    main, _ = both_clients_signed_in(flow)

    response = flow.end_session(
        id_token_hint=main["id_token"], post_logout_redirect_uri=flow.post_logout_redirect_uri
    )
    backchannel.sender(demo_app).flush()

    assert response.status_code == 303
    assert response.headers["Location"] == flow.post_logout_redirect_uri
    sid = verified(flow, main["id_token"])[1]["sid"]
    for path, client_id in ((MAIN_PATH, flow.client_id), (OTHER_PATH, flow.other_client_id)):
        (logout_token,) = receiver.tokens(path)
        claims = verified(flow, logout_token)[1]
        assert (claims["aud"], claims["sid"]) == (client_id, sid)


def test_revoking_an_application_tells_only_that_client_about_that_person(demo_app, flow, receiver):
    main, _ = both_clients_signed_in(flow)

    response = flow.revoke_connection(flow.client_id)
    backchannel.sender(demo_app).flush()

    assert response.status_code == 303
    assert receiver.tokens(OTHER_PATH) == []
    (logout_token,) = receiver.tokens(MAIN_PATH)
    header, claims = verified(flow, logout_token)
    assert header["typ"] == "logout+jwt"
    assert claims["aud"] == flow.client_id
    assert claims["sub"] == verified(flow, main["id_token"])[1]["sub"]
    assert claims["events"] == {EVENT: {}}
    # Every session of this person at the client ends, not one: no sid.
    assert "sid" not in claims


def test_a_client_without_a_back_channel_logout_uri_gets_nothing(provider_with, receiver):
    def without_other_uri(config):
        del config["DEMO_PROVIDER_CLIENTS"][1]["backchannel_logout_uri"]

    app, flow = provider_with(without_other_uri)
    both_clients_signed_in(flow)

    sign_out(flow)
    backchannel.sender(app).flush()

    assert [item.path for item in receiver.received] == [MAIN_PATH]


def test_a_client_that_is_down_neither_slows_nor_fails_the_sign_out(
    provider_with, receiver, caplog
):
    caplog.set_level(logging.INFO, logger="demo_provider.backchannel")
    down = closed_port_url(MAIN_PATH)

    def main_is_down(config):
        config["DEMO_PROVIDER_CLIENTS"][0]["backchannel_logout_uri"] = down

    app, flow = provider_with(main_is_down)
    both_clients_signed_in(flow)

    response = sign_out(flow)
    backchannel.sender(app).flush()

    assert response.status_code == 303
    assert not flow.signed_in()
    assert len(receiver.tokens(OTHER_PATH)) == 1
    assert "workshop-app" in caplog.text
    assert "ConnectionError" in caplog.text


def test_a_client_that_hangs_neither_slows_nor_fails_the_sign_out(
    demo_app, flow, receiver, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="demo_provider.backchannel")
    # A short read timeout, so the test need not wait the real three seconds.
    monkeypatch.setattr(backchannel, "READ_TIMEOUT", 0.2)
    receiver.hanging.add(MAIN_PATH)
    both_clients_signed_in(flow)

    response = sign_out(flow)

    assert response.status_code == 303
    # The sign-out answered while the client was still holding the logout token's request.
    assert receiver.entered.wait(5)
    assert not receiver.returned.is_set()
    backchannel.sender(demo_app).flush()
    assert not receiver.returned.is_set()
    assert len(receiver.tokens(OTHER_PATH)) == 1
    assert "ReadTimeout" in caplog.text


def test_deliveries_are_logged_with_client_and_status_never_the_token(
    demo_app, flow, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    both_clients_signed_in(flow)

    sign_out(flow)
    backchannel.sender(demo_app).flush()

    messages = [r.getMessage() for r in caplog.records if r.name == "demo_provider.backchannel"]
    assert sorted(messages) == sorted(
        f"Back-channel logout to {client_id} at {receiver.url}: HTTP 200"
        for client_id in (flow.client_id, flow.other_client_id)
    )
    sent = receiver.tokens(MAIN_PATH) + receiver.tokens(OTHER_PATH)
    assert not [token for token in sent if token in caplog.text]


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://app.example/backchannel-logout/demo", "https"),
        ("https://app.example/backchannel-logout/demo#here", "fragment"),
    ],
)
def test_configuration_refuses_an_unsafe_back_channel_logout_uri(
    demo_config, tmp_path, uri, problem
):
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["backchannel_logout_uri"] = uri

    with pytest.raises(ValueError, match=problem):
        create_app(demo_config, instance_path=str(tmp_path / "instance"))


def test_configuration_refuses_a_list_of_back_channel_logout_uris(demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_CLIENTS"][0]["backchannel_logout_uri"] = ["https://app.example/"]

    with pytest.raises(ValueError, match="one URI"):
        create_app(demo_config, instance_path=str(tmp_path / "instance"))


def test_the_environment_registers_a_back_channel_logout_uri(tmp_path):
    uri = "http://127.0.0.1:5000/backchannel-logout/demo"
    environ = {
        "DEMO_PROVIDER_CLIENT_ID": "reference-app",
        "DEMO_PROVIDER_CLIENT_SECRET": "change-me",
        "DEMO_PROVIDER_REDIRECT_URIS": "http://127.0.0.1:5000/callback/demo",
        "DEMO_PROVIDER_BACKCHANNEL_LOGOUT_URI": uri,
    }

    resolved = settings.resolve(settings.from_environment(environ), str(tmp_path))

    assert resolved["DEMO_PROVIDER_CLIENTS"][0]["backchannel_logout_uri"] == uri


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://app.example/backchannel-logout", "https"),
        ("https://app.example/backchannel-logout#here", "fragment"),
    ],
)
def test_clients_register_refuses_an_unsafe_back_channel_logout_uri(
    run_clients_command, uri, problem
):
    result = run_clients_command(
        "register",
        *("--name", "Attendee App", "--redirect-uri", "http://127.0.0.1:8000/callback"),
        *("--backchannel-logout-uri", uri),
    )

    assert result.exit_code != 0
    assert problem in result.output


def test_clients_register_stores_and_lists_the_back_channel_logout_uri(
    register_client, run_clients_command, demo_app
):
    uri = "https://attendee.example/backchannel-logout/demo"

    registered = register_client("--backchannel-logout-uri", uri)
    listed = run_clients_command("list").output

    assert uri in registered.output
    attendee = listed.split(registered.client_id, 1)[1]
    assert f"back-channel logout: {uri}" in attendee
    with demo_app.app_context():
        assert db.session.get(Client, registered.client_id).backchannel_logout_uri == uri


def test_a_provider_database_from_before_back_channel_logout_keeps_working(
    demo_config, tmp_path, flow_for, receiver
):
    instance = str(tmp_path / "instance")
    first = create_app(demo_config, instance_path=instance)
    prepare(first)
    with first.app_context():
        for table in ("backchannel_logout_uri", "grant_session", "session_participant"):
            db.session.execute(text(f"DROP TABLE demo_provider_{table}"))
        db.session.commit()

    restarted = create_app(demo_config, instance_path=instance)
    flow = flow_for(restarted.test_client())
    body, _ = flow.tokens()
    sign_out(flow)
    backchannel.sender(restarted).flush()

    assert verified(flow, body["id_token"])[1]["sid"]
    assert len(receiver.tokens(MAIN_PATH)) == 1
