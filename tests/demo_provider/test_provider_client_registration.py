"""Registering workshop clients with `flask --app demo_provider clients ...`, and what confidential
and public clients registered that way can and cannot do."""

import base64
import re

import pytest
from sqlalchemy import text

from demo_provider import create_app, prepare
from demo_provider.extensions import db
from demo_provider.models import Client

ATTENDEE_REDIRECT_URI = "http://127.0.0.1:8000/callback"


def _code_for(flow, client_id, scope=None):
    """Sign in as alice and consent for `client_id`; returns (code, verifier)."""
    code, verifier, _ = flow.obtain_code(
        scope=scope or flow.full_scope, client_id=client_id, redirect_uri=ATTENDEE_REDIRECT_URI
    )
    return code, verifier


def _public_tokens(flow, client_id):
    """The whole code flow as a public client; returns the token response JSON."""
    code, verifier = _code_for(flow, client_id)
    response = flow.redeem_as_public_client(code, verifier, client_id, ATTENDEE_REDIRECT_URI)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_register_prints_a_readable_random_client_id_and_a_secret(register_client):
    registered = register_client(name="My App")

    assert re.fullmatch(r"my-app-[0-9a-f]{12}", registered.client_id)
    # 32 random bytes, base64url without padding.
    assert len(base64.urlsafe_b64decode(registered.client_secret + "=")) == 32
    assert "Copy the secret now" in registered.output


def test_registered_client_ids_differ_for_the_same_name(register_client):
    first = register_client(name="Twin")
    second = register_client(name="Twin")

    assert first.client_id != second.client_id


def test_registered_secret_is_stored_only_as_a_digest(register_client, demo_app):
    registered = register_client()

    with demo_app.app_context():
        client = db.session.get(Client, registered.client_id)
        assert client.client_secret_hash != registered.client_secret
        assert registered.client_secret not in repr(vars(client))
        assert client.check_client_secret(registered.client_secret)


def test_registered_confidential_client_completes_the_code_flow(register_client, flow):
    registered = register_client()

    body, _ = flow.tokens(
        client_id=registered.client_id,
        client_secret=registered.client_secret,
        redirect_uri=ATTENDEE_REDIRECT_URI,
    )

    assert body["refresh_token"]
    assert flow.userinfo(body["access_token"]).status_code == 200
    assert flow.profile_api(body["access_token"]).status_code == 200


def test_registered_client_shows_its_name_on_the_consent_page(register_client, flow):
    registered = register_client(name="Workshop Attendee 7")
    flow.sign_in()

    form_page = flow.client.get(
        "/authorize",
        query_string=flow.authorize_params(
            client_id=registered.client_id, redirect_uri=ATTENDEE_REDIRECT_URI
        ),
    )

    assert "Workshop Attendee 7" in form_page.get_data(as_text=True)


def test_registered_client_is_held_to_its_registered_scope(register_client, flow):
    registered = register_client("--scope", "openid profile")
    flow.sign_in()

    response = flow.client.get(
        "/authorize",
        query_string=flow.authorize_params(
            client_id=registered.client_id,
            redirect_uri=ATTENDEE_REDIRECT_URI,
            scope="openid email",
        ),
    )

    assert flow.query(response.headers["Location"])["error"] == "invalid_scope"


def test_register_public_prints_no_secret(register_client):
    registered = register_client("--public")

    assert registered.client_id
    assert registered.client_secret is None
    assert "client_secret" not in registered.output
    assert "none" in registered.output


def test_public_client_completes_the_code_flow_with_pkce_and_no_secret(register_client, flow):
    registered = register_client("--public")

    body = _public_tokens(flow, registered.client_id)

    assert body["token_type"] == "Bearer"
    assert flow.userinfo(body["access_token"]).status_code == 200


def test_public_client_is_refused_without_a_code_verifier(register_client, flow):
    registered = register_client("--public")
    code, _ = _code_for(flow, registered.client_id)

    response = flow.redeem_as_public_client(code, None, registered.client_id, ATTENDEE_REDIRECT_URI)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_public_client_is_refused_with_the_wrong_code_verifier(register_client, flow):
    registered = register_client("--public")
    code, _ = _code_for(flow, registered.client_id)
    wrong_verifier, _ = flow.pkce_pair()

    response = flow.redeem_as_public_client(
        code, wrong_verifier, registered.client_id, ATTENDEE_REDIRECT_URI
    )

    assert response.get_json()["error"] == "invalid_grant"


def test_public_client_authorization_request_without_pkce_is_refused(register_client, flow):
    registered = register_client("--public")
    flow.sign_in()
    params = flow.authorize_params(
        client_id=registered.client_id,
        redirect_uri=ATTENDEE_REDIRECT_URI,
        code_challenge=None,
        code_challenge_method=None,
    )

    response = flow.client.get("/authorize", query_string=params)

    assert flow.query(response.headers["Location"])["error"] == "invalid_request"


def test_public_client_cannot_authenticate_with_a_made_up_secret(register_client, flow):
    registered = register_client("--public")
    code, verifier = _code_for(flow, registered.client_id)

    response = flow.redeem(
        code,
        verifier,
        redirect_uri=ATTENDEE_REDIRECT_URI,
        client_id=registered.client_id,
        client_secret="anything-at-all",
    )

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_public_client_cannot_redeem_another_clients_code(register_client, flow):
    registered = register_client("--public")
    code, verifier, _ = flow.obtain_code()

    response = flow.redeem_as_public_client(code, verifier, registered.client_id, flow.redirect_uri)

    assert response.get_json()["error"] == "invalid_grant"


def test_public_client_refresh_rotates_the_refresh_token(register_client, flow):
    registered = register_client("--public")
    first = _public_tokens(flow, registered.client_id)

    response = flow.refresh_as_public_client(first["refresh_token"], registered.client_id)

    assert response.status_code == 200
    assert response.get_json()["refresh_token"] != first["refresh_token"]


def test_public_client_reusing_a_rotated_refresh_token_ends_the_grant(register_client, flow):
    registered = register_client("--public")
    first = _public_tokens(flow, registered.client_id)
    current = flow.refresh_as_public_client(first["refresh_token"], registered.client_id)

    replay = flow.refresh_as_public_client(first["refresh_token"], registered.client_id)

    assert replay.get_json()["error"] == "invalid_grant"
    latest = current.get_json()
    refreshed = flow.refresh_as_public_client(latest["refresh_token"], registered.client_id)
    assert refreshed.get_json()["error"] == "invalid_grant"
    assert flow.userinfo(latest["access_token"]).status_code == 401


def test_public_client_can_revoke_its_refresh_token_with_its_client_id(register_client, flow):
    registered = register_client("--public")
    body = _public_tokens(flow, registered.client_id)

    response = flow.client.post(
        "/revoke", data={"token": body["refresh_token"], "client_id": registered.client_id}
    )

    assert response.status_code == 200
    refreshed = flow.refresh_as_public_client(body["refresh_token"], registered.client_id)
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_confidential_client_cannot_authenticate_with_none(flow):
    code, verifier, _ = flow.obtain_code()

    response = flow.redeem_as_public_client(code, verifier, flow.client_id, flow.redirect_uri)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert flow.redeem(code, verifier).status_code == 200


def test_confidential_client_cannot_refresh_with_none(flow):
    body, _ = flow.tokens()

    response = flow.refresh_as_public_client(body["refresh_token"], flow.client_id)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert flow.refresh(body["refresh_token"]).status_code == 200


def test_registered_confidential_client_cannot_authenticate_with_none(register_client, flow):
    registered = register_client()
    code, verifier = _code_for(flow, registered.client_id)

    response = flow.redeem_as_public_client(
        code, verifier, registered.client_id, ATTENDEE_REDIRECT_URI
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("redirect_uri", "reason"),
    [
        ("http://app.example/callback", "https unless it is a loopback"),
        ("https://app.example/callback#fragment", "fragment"),
        ("https://user:pass@app.example/callback", "user information"),
        ("/callback", "absolute"),
        ("javascript:alert(1)", "absolute"),
    ],
    ids=["plain-http", "fragment", "userinfo", "relative", "javascript"],
)
def test_register_refuses_an_unsafe_redirect_uri(run_clients_command, redirect_uri, reason):
    result = run_clients_command("register", "--name", "Bad", "--redirect-uri", redirect_uri)

    assert result.exit_code != 0
    assert reason in result.output
    assert "client_id:" not in result.output
    assert "Bad" not in run_clients_command("list").output


def test_register_refuses_an_unsafe_post_logout_redirect_uri(run_clients_command):
    result = run_clients_command(
        "register",
        "--name",
        "Bad",
        "--redirect-uri",
        ATTENDEE_REDIRECT_URI,
        "--post-logout-redirect-uri",
        "http://app.example/bye",
    )

    assert result.exit_code != 0
    assert "Post-logout redirect URI" in result.output


def test_register_refuses_unknown_scopes(run_clients_command):
    result = run_clients_command(
        "register", "--name", "Bad", "--redirect-uri", ATTENDEE_REDIRECT_URI, "--scope", "admin"
    )

    assert result.exit_code != 0
    assert "admin" in result.output


def test_register_needs_a_redirect_uri(run_clients_command):
    result = run_clients_command("register", "--name", "Bad")

    assert result.exit_code != 0
    assert "--redirect-uri" in result.output


def test_register_accepts_several_redirect_uris(register_client, demo_app):
    registered = register_client("--redirect-uri", "https://attendee.example/callback")

    with demo_app.app_context():
        client = db.session.get(Client, registered.client_id)
        assert client.redirect_uris == [
            ATTENDEE_REDIRECT_URI,
            "https://attendee.example/callback",
        ]


def test_list_shows_every_client_and_no_secret(register_client, run_clients_command, demo_app):
    confidential = register_client(name="Confidential One")
    public = register_client("--public", name="Public One")

    output = run_clients_command("list").output

    assert confidential.client_id in output
    assert public.client_id in output
    assert "workshop-app" in output
    assert "confidential, from command line" in output
    assert "public, from command line" in output
    assert "confidential, from configuration" in output
    assert confidential.client_secret not in output
    assert "workshop-secret-with-enough-entropy" not in output
    with demo_app.app_context():
        digests = [client.client_secret_hash for client in db.session.query(Client)]
    assert not [value for value in digests if value and value in output]


def test_delete_revokes_the_clients_tokens(register_client, run_clients_command, flow):
    registered = register_client()
    body, _ = flow.tokens(
        client_id=registered.client_id,
        client_secret=registered.client_secret,
        redirect_uri=ATTENDEE_REDIRECT_URI,
    )

    result = run_clients_command("delete", registered.client_id)

    assert result.exit_code == 0, result.output
    assert flow.profile_api(body["access_token"]).status_code == 401
    refreshed = flow.refresh(
        body["refresh_token"],
        client_id=registered.client_id,
        client_secret=registered.client_secret,
    )
    assert refreshed.status_code == 401
    assert registered.client_id not in run_clients_command("list").output


def test_deleted_client_can_no_longer_start_a_sign_in(register_client, run_clients_command, flow):
    registered = register_client()
    run_clients_command("delete", registered.client_id)
    flow.sign_in()

    response = flow.client.get(
        "/authorize",
        query_string=flow.authorize_params(
            client_id=registered.client_id, redirect_uri=ATTENDEE_REDIRECT_URI
        ),
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_delete_refuses_a_client_from_the_configuration(run_clients_command, flow):
    body, _ = flow.tokens()

    result = run_clients_command("delete", flow.client_id)

    assert result.exit_code != 0
    assert "DEMO_PROVIDER_CLIENTS" in result.output
    assert flow.refresh(body["refresh_token"]).status_code == 200


def test_delete_of_an_unknown_client_fails(run_clients_command):
    result = run_clients_command("delete", "no-such-client")

    assert result.exit_code != 0
    assert "No client is registered" in result.output


def test_registered_clients_survive_a_restart(register_client, demo_config, tmp_path, flow_for):
    registered = register_client()

    restarted = create_app(demo_config, instance_path=str(tmp_path / "instance"))

    flow = flow_for(restarted.test_client())
    body, _ = flow.tokens(
        client_id=registered.client_id,
        client_secret=registered.client_secret,
        redirect_uri=ATTENDEE_REDIRECT_URI,
    )
    assert body["access_token"]


def test_a_provider_database_from_before_client_registrations_keeps_working(
    demo_config, tmp_path, flow_for
):
    instance = str(tmp_path / "instance")
    first = create_app(demo_config, instance_path=instance)
    prepare(first)
    with first.app_context():
        db.session.execute(text("DROP TABLE demo_provider_client_registration"))
        db.session.commit()

    restarted = create_app(demo_config, instance_path=instance)

    body, _ = flow_for(restarted.test_client()).tokens()
    assert body["access_token"]
