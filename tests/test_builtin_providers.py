"""GitHub, Google and GitLab: switched on by their client id, signed in with payloads shaped like
the real ones (those hosts are mocked at the HTTP layer; they cannot be reached from here).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from sqlalchemy import select, update

from accounts import tokens
from extensions import db
from models import LinkedAccount, UserSession, utcnow
from providers import github, gitlab
from tests.fake_hosts import GITLAB_DISCOVERY, GOOGLE_DISCOVERY, OidcHost
from tests.forms import csrf_token
from tests.live_provider import query

GITHUB_USER = {
    "login": "octocat",
    "id": 583231,
    "node_id": "MDQ6VXNlcjU4MzIzMQ==",
    "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
    "html_url": "https://github.com/octocat",
    "type": "User",
    "site_admin": False,
    "name": "The Octocat",
    "company": "@github",
    "blog": "https://github.blog",
    "location": "San Francisco",
    "email": None,
    "hireable": None,
    "bio": None,
    "twitter_username": None,
    "public_repos": 8,
    "public_gists": 8,
    "followers": 9999,
    "following": 9,
    "created_at": "2011-01-25T18:44:36Z",
    "updated_at": "2026-10-05T11:21:01Z",
}
GITHUB_EMAILS = [
    {"email": "octo@example.com", "verified": False, "primary": False, "visibility": None},
    {"email": "octocat@github.com", "verified": True, "primary": True, "visibility": "public"},
]
GOOGLE_USERINFO = {
    "sub": "109876543210987654321",
    "name": "Ada Lovelace",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "picture": "https://lh3.googleusercontent.com/a/ACg8ocK",
    "email": "ada.lovelace@gmail.com",
    "email_verified": True,
    "locale": "en-GB",
}
GITLAB_USERINFO = {
    "sub": "4021735",
    "sub_legacy": "2f0a6b4b8e8c1d7f",
    "name": "Grace Hopper",
    "nickname": "ghopper",
    "preferred_username": "ghopper",
    "email": "grace@example.org",
    "email_verified": True,
    "website": "",
    "profile": "https://gitlab.com/ghopper",
    "picture": "https://gitlab.com/uploads/-/system/user/avatar/4021735/avatar.png",
    "groups": ["compilers", "navy"],
}


@pytest.fixture
def app_overrides():
    return {
        "GITHUB_CLIENT_ID": "Iv1.8a61f9b3a7aba766",
        "GITHUB_CLIENT_SECRET": "gh-secret",
        "GOOGLE_CLIENT_ID": "1234-abc.apps.googleusercontent.com",
        "GOOGLE_CLIENT_SECRET": "GOCSPX-secret",
        "GITLAB_CLIENT_ID": "gitlab-app-id",
        "GITLAB_CLIENT_SECRET": "gloas-secret",
    }


@pytest.fixture
def hosts():
    """github.com, google and gitlab.com answered locally; 127.0.0.1 still goes to the network."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield mock


def expire(app, provider: str) -> None:
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount).filter_by(provider=provider)).one()
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_each_configured_provider_gets_a_button_in_order(client):
    page = client.get("/login").get_data(as_text=True)
    buttons = [f"Sign in with {title}" for title in ("Demo Provider", "GitHub", "Google", "GitLab")]
    positions = [page.index(button) for button in buttons]
    assert positions == sorted(positions)


def test_a_client_id_without_a_secret_stops_start_up(tmp_path, provider):
    from app import create_app
    from config import ConfigurationError
    from tests.conftest import client_config

    with pytest.raises(ConfigurationError, match="GITHUB_CLIENT_SECRET"):
        create_app(client_config(tmp_path, provider.issuer, GITHUB_CLIENT_ID="x"))


# GitHub


def github_token_endpoint(hosts, **extra):
    body = {
        "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "scope": "read:user,user:email",
        "token_type": "bearer",
        **extra,
    }
    return hosts.add(responses.POST, github.TOKEN_ENDPOINT, json=body)


def github_api(hosts):
    hosts.add(responses.GET, github.USER_URL, json=GITHUB_USER)
    hosts.add(responses.GET, github.EMAILS_URL, json=GITHUB_EMAILS)


def test_github_sign_in_request_uses_pkce_and_no_nonce(flow, hosts):
    url = flow.start("github")
    params = query(url)
    assert url.startswith(github.AUTHORIZATION_ENDPOINT + "?")
    assert params["redirect_uri"] == "http://localhost/callback/github"
    assert params["scope"] == "read:user user:email"
    assert params["code_challenge_method"] == "S256"
    assert "nonce" not in params


def test_github_sign_in_reads_the_account_from_the_api(flow, client, hosts, app):
    state = query(flow.start("github"))["state"]
    token_call = github_token_endpoint(hosts)
    github_api(hosts)

    response = client.get(f"/callback/github?code=a1b2c3d4e5&state={state}")

    assert response.status_code == 303
    assert "code_verifier" in token_call.calls[0].request.body
    text = client.get("/profile").get_data(as_text=True)
    assert "The Octocat" in text
    assert "octocat@github.com" in text
    assert "San Francisco" in text
    # GitHub separates the granted scopes with commas: each is shown as one.
    assert "<code>read:user</code> <code>user:email</code>" in text
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        # The numeric id, never the login: logins can be renamed and reused by someone else.
        assert (link.provider, link.subject) == ("github", "583231")
        assert link.scope == "read:user user:email"


def test_github_errors_returned_with_status_200_are_refused(flow, client, hosts):
    state = query(flow.start("github"))["state"]
    hosts.add(
        responses.POST,
        github.TOKEN_ENDPOINT,
        json={
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/troubleshooting",
        },
    )
    response = client.get(f"/callback/github?code=expired&state={state}")
    assert response.status_code == 400
    assert "token_bad_verification_code" in response.get_data(as_text=True)


def test_github_app_expiring_tokens_are_refreshed(flow, client, hosts, app):
    state = query(flow.start("github"))["state"]
    github_token_endpoint(
        hosts, expires_in=28800, refresh_token="ghr_first", refresh_token_expires_in=15811200
    )
    github_api(hosts)
    client.get(f"/callback/github?code=a1b2c3&state={state}")
    expire(app, "github")
    hosts.replace(
        responses.POST,
        github.TOKEN_ENDPOINT,
        json={
            "access_token": "ghu_second",
            "expires_in": 28800,
            "refresh_token": "ghr_second",
            "refresh_token_expires_in": 15811200,
            "scope": "",
            "token_type": "bearer",
        },
    )

    assert "The Octocat" in client.get("/profile").get_data(as_text=True)

    refresh_call = [c for c in hosts.calls if "grant_type=refresh_token" in str(c.request.body)]
    assert len(refresh_call) == 1
    assert "refresh_token=ghr_first" in refresh_call[0].request.body
    assert refresh_call[-1].request.headers["Authorization"].startswith("Basic ")
    user_calls = [c for c in hosts.calls if c.request.url == github.USER_URL]
    assert user_calls[-1].request.headers["Authorization"] == "Bearer ghu_second"


def test_github_email_is_only_a_verified_primary_one():
    emails = [
        {"email": "unverified@example.com", "verified": False, "primary": True},
        {"email": "other@example.com", "verified": True, "primary": False},
    ]
    assert github.verified_primary_email(emails) is None
    assert github.verified_primary_email(GITHUB_EMAILS) == "octocat@github.com"
    assert github.verified_primary_email({"message": "Bad credentials"}) is None


def test_github_profile_mapping():
    profile = github.map_profile(GITHUB_USER)
    assert profile.display_name == "The Octocat"
    assert profile.username == "octocat"
    assert ("Public repositories", "8") in profile.details
    assert github.map_profile({**GITHUB_USER, "name": None}).display_name == "octocat"


# Google


def test_google_asks_for_offline_access_with_consent(flow, hosts, app):
    OidcHost(hosts, GOOGLE_DISCOVERY, app.config["GOOGLE_CLIENT_ID"])
    params = query(flow.start("google"))
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["scope"] == "openid profile email"
    assert params["nonce"]


def test_google_sign_in_validates_the_id_token_and_reads_userinfo(flow, client, hosts, app):
    google = OidcHost(hosts, GOOGLE_DISCOVERY, app.config["GOOGLE_CLIENT_ID"])
    google.userinfo = GOOGLE_USERINFO
    params = query(flow.start("google"))
    google.answer_next_token_request(
        {
            "access_token": "ya29.a0AfB_byC",
            "expires_in": 3599,
            "refresh_token": "1//0gLx",
            "scope": "openid https://www.googleapis.com/auth/userinfo.email "
            "https://www.googleapis.com/auth/userinfo.profile",
            "token_type": "Bearer",
            "id_token": google.id_token(
                GOOGLE_USERINFO["sub"],
                params["nonce"],
                email_verified=True,
                email=GOOGLE_USERINFO["email"],
            ),
        }
    )

    response = client.get(f"/callback/google?state={params['state']}&code=4/0AX4XfWh&scope=email")

    assert response.status_code == 303
    text = client.get("/profile").get_data(as_text=True)
    assert "Ada Lovelace" in text
    assert "ada.lovelace@gmail.com" in text
    assert google.token_requests[0]["grant_type"] == ["authorization_code"]


def test_google_granular_consent_is_recorded_by_the_names_asked_for(flow, client, hosts, app):
    """Google's consent lets the person untick e-mail; its token response then names only what
    was granted, by URL. The record uses the names asked for, and the profile marks e-mail."""
    google = OidcHost(hosts, GOOGLE_DISCOVERY, app.config["GOOGLE_CLIENT_ID"])
    google.userinfo = {k: v for k, v in GOOGLE_USERINFO.items() if "email" not in k}
    params = query(flow.start("google"))
    assert params["include_granted_scopes"] == "true"
    google.answer_next_token_request(
        {
            "access_token": "ya29.a0AfB_byC",
            "expires_in": 3599,
            "refresh_token": "1//0gLx",
            "scope": "https://www.googleapis.com/auth/userinfo.profile openid",
            "token_type": "Bearer",
            "id_token": google.id_token(GOOGLE_USERINFO["sub"], params["nonce"]),
        }
    )
    client.get(f"/callback/google?state={params['state']}&code=4/0AX4XfWh")

    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        assert link.scope == "profile openid"
        assert link.requested_scope == "openid profile email"
    profile = client.get("/profile").get_data(as_text=True)
    assert "Asked for, not granted" in profile
    assert "<code>email</code>" in profile


def test_google_sign_in_with_a_wrong_nonce_stores_nothing(flow, client, hosts, app):
    google = OidcHost(hosts, GOOGLE_DISCOVERY, app.config["GOOGLE_CLIENT_ID"])
    google.userinfo = GOOGLE_USERINFO
    params = query(flow.start("google"))
    google.answer_next_token_request(
        {
            "access_token": "ya29.x",
            "expires_in": 3599,
            "token_type": "Bearer",
            "id_token": google.id_token(GOOGLE_USERINFO["sub"], "another-nonce"),
        }
    )
    response = client.get(f"/callback/google?state={params['state']}&code=4/0AX4XfWh")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(LinkedAccount)).all() == []


# GitLab


def sign_in_with_gitlab(flow, client, hosts, app) -> OidcHost:
    host = OidcHost(hosts, GITLAB_DISCOVERY, app.config["GITLAB_CLIENT_ID"])
    host.userinfo = GITLAB_USERINFO
    params = query(flow.start("gitlab"))
    host.answer_next_token_request(
        {
            "access_token": "glpat-first",
            "token_type": "Bearer",
            "expires_in": 7200,
            "refresh_token": "glrt-first",
            "scope": "openid profile email",
            "created_at": 1763700000,
            "id_token": host.id_token(GITLAB_USERINFO["sub"], params["nonce"]),
        }
    )
    assert client.get(f"/callback/gitlab?state={params['state']}&code=glc_abc").status_code == 303
    return host


def test_gitlab_sign_in_shows_the_profile_with_groups(flow, client, hosts, app):
    sign_in_with_gitlab(flow, client, hosts, app)
    text = client.get("/profile").get_data(as_text=True)
    assert "Grace Hopper" in text
    assert "ghopper" in text
    assert "compilers, navy" in text


def test_gitlab_rotating_refresh_tokens_are_followed(flow, client, hosts, app):
    host = sign_in_with_gitlab(flow, client, hosts, app)
    for n in ("second", "third"):
        expire(app, "gitlab")
        host.answer_next_token_request(
            {
                "access_token": f"glpat-{n}",
                "token_type": "Bearer",
                "expires_in": 7200,
                "refresh_token": f"glrt-{n}",
                "scope": "openid profile email",
                "created_at": 1763700000,
            }
        )
        assert "Grace Hopper" in client.get("/profile").get_data(as_text=True)

    refreshes = [r for r in host.token_requests if r["grant_type"] == ["refresh_token"]]
    assert [r["refresh_token"] for r in refreshes] == [["glrt-first"], ["glrt-second"]]
    with app.app_context():
        link = db.session.scalars(select(LinkedAccount)).one()
        assert tokens.decrypt(link.refresh_token_ciphertext) == "glrt-third"


def test_gitlab_self_managed_issuer_is_configurable(tmp_path, provider, monkeypatch):
    from app import create_app
    from tests.conftest import client_config

    monkeypatch.setenv("GITLAB_ISSUER", "https://gitlab.example.org")
    app = create_app(
        client_config(tmp_path, provider.issuer, GITLAB_CLIENT_ID="a", GITLAB_CLIENT_SECRET="b")
    )
    assert app.extensions["providers"]["gitlab"].issuer == "https://gitlab.example.org"


def test_gitlab_profile_mapping_without_groups():
    profile = gitlab.map_profile({**GITLAB_USERINFO, "groups": []})
    assert profile.display_name == "Grace Hopper"
    assert all(label != "Groups" for label, _ in profile.details)


def test_github_reauthentication_is_a_new_round_trip_and_says_what_it_cannot_prove(
    flow, client, hosts, app
):
    state = query(flow.start("github"))["state"]
    github_token_endpoint(hosts)
    github_api(hosts)
    client.get(f"/callback/github?code=a1b2c3d4e5&state={state}")
    with app.app_context():  # signed in ten minutes ago
        db.session.execute(
            update(UserSession).values(authenticated_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()
    page = client.get("/profile").get_data(as_text=True)

    answer = client.post("/profile/delete", data={"csrf_token": csrf_token(page), "confirm": "yes"})

    # Sent to GitHub again (it has no max_age or prompt=login to ask for), the deletion waiting.
    assert answer.headers["Location"].startswith(github.AUTHORIZATION_ENDPOINT + "?")
    assert "max_age" not in query(answer.headers["Location"])
    state = query(answer.headers["Location"])["state"]
    done = client.get(f"/callback/github?code=f6e5d4c3b2&state={state}")
    assert done.headers["Location"] == "/"
    assert "cannot prove that you entered your password again" in client.get("/").get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalars(select(LinkedAccount)).first() is None
