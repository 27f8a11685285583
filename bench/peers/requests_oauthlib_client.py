"""Peer: requests-oauthlib's `OAuth2Session` as its documentation's web application flow and
"refreshing tokens" sections show: a session made per request, the state kept in Flask's session
between the redirect and the callback, and on the profile page a session with `auto_refresh_url`,
`auto_refresh_kwargs` (the client's id and secret) and a `token_updater` that saves a refreshed
token. The docs' updater writes to Flask's session; here it writes the user's row in the
database, as every peer keeps its tokens.

Two settings only because the demo provider asks for them: PKCE S256 (a verifier made with
oauthlib's client and kept beside the state, the challenge passed to `authorization_url`), and
OAUTHLIB_INSECURE_TRANSPORT=1 in the deployment's environment (plain http on 127.0.0.1; the docs
say to set it for local testing).

Served by gunicorn as `bench.peers.requests_oauthlib_client:create_app()`.
"""

from __future__ import annotations

from flask import Flask, current_app, redirect, request, session, url_for
from flask_login import current_user, login_required
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from bench.peers import fixture
from bench.peers.fixture import db

# Plain OAuth 2.0, as the docs' examples: who the person is comes from the profile API.
SCOPE = ["profile", "email", "offline_access"]
CODE_CHALLENGE_METHOD = "S256"


class OAuthToken(db.Model):
    """The token as requests-oauthlib returns it (JSON), one row per user."""

    __tablename__ = "oauth_tokens"
    user_id = db.Column(db.Integer, db.ForeignKey(fixture.User.id), primary_key=True)
    token = db.Column(db.JSON, nullable=False)


def create_app(settings=None) -> Flask:
    app = fixture.new_app(__name__, settings)
    app.add_url_rule("/login", "login", login)
    app.add_url_rule("/callback/demo", "callback", callback)
    app.add_url_rule("/profile", "profile", profile)
    fixture.create_tables(app, OAuthToken)
    return app


def _endpoint(path: str) -> str:
    return current_app.config["DEMO_ISSUER"] + path


def login():
    client_id = current_app.config["DEMO_CLIENT_ID"]
    client = WebApplicationClient(client_id)
    verifier = client.create_code_verifier(length=48)
    demo = OAuth2Session(
        client=client, scope=SCOPE, redirect_uri=url_for("callback", _external=True)
    )
    authorization_url, state = demo.authorization_url(
        _endpoint("/authorize"),
        code_challenge=client.create_code_challenge(verifier, CODE_CHALLENGE_METHOD),
        code_challenge_method=CODE_CHALLENGE_METHOD,
    )
    session["oauth_state"] = state
    session["oauth_code_verifier"] = verifier
    return redirect(authorization_url)


def callback():
    demo = OAuth2Session(
        current_app.config["DEMO_CLIENT_ID"],
        state=session.pop("oauth_state"),
        redirect_uri=url_for("callback", _external=True),
    )
    token = demo.fetch_token(
        _endpoint("/token"),
        client_secret=current_app.config["DEMO_CLIENT_SECRET"],
        authorization_response=request.url,
        code_verifier=session.pop("oauth_code_verifier"),
    )
    details = demo.get(_endpoint("/api/profile")).json()
    user = fixture.sign_in(details["sub"], details.get("name"))
    db.session.merge(OAuthToken(user_id=user.id, token=token))
    db.session.commit()
    return redirect(url_for("profile"))


@login_required
def profile():
    stored = db.session.get(OAuthToken, current_user.id)

    def token_saver(token: dict) -> None:
        stored.token = token
        db.session.commit()

    config = current_app.config
    demo = OAuth2Session(
        config["DEMO_CLIENT_ID"],
        token=stored.token,
        auto_refresh_url=_endpoint("/token"),
        auto_refresh_kwargs={
            "client_id": config["DEMO_CLIENT_ID"],
            "client_secret": config["DEMO_CLIENT_SECRET"],
        },
        token_updater=token_saver,
    )
    response = demo.get(_endpoint("/api/profile"))
    response.raise_for_status()
    return fixture.profile_page(response.json())
