"""Peer: Authlib's Flask client (`authlib.integrations.flask_client`) as its documentation shows.
`OAuth().register(...)` reads the demo provider's discovery document; the token lives per user in
an `OAuth2Token` table, handed to Authlib by `fetch_token` and saved after a refresh by
`update_token`; the profile comes from `oauth.demo.get(...)`.

Served by gunicorn as `bench.peers.authlib_client:create_app()`.
"""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, url_for
from flask_login import current_user, login_required

from bench.peers import fixture
from bench.peers.fixture import db

# OpenID Connect, as the docs' examples sign in: Authlib sends a nonce and checks the ID token.
SCOPE = "openid profile email offline_access"


class OAuth2Token(db.Model):
    """The docs' token model, one row per user and provider."""

    __tablename__ = "oauth2_token"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40))
    token_type = db.Column(db.String(40))
    access_token = db.Column(db.String(200))
    refresh_token = db.Column(db.String(200))
    expires_at = db.Column(db.Integer)
    user_id = db.Column(db.Integer, db.ForeignKey(fixture.User.id))
    user = db.relationship(fixture.User)

    def to_token(self) -> dict:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }


def fetch_token(name: str) -> dict | None:
    """The signed-in user's token, for Authlib to call the API with."""
    item = OAuth2Token.query.filter_by(name=name, user_id=current_user.id).first()
    return item.to_token() if item else None


def update_token(name: str, token: dict, refresh_token=None, access_token=None) -> None:
    """Save a refreshed token over the row that held the refresh token it replaced."""
    if refresh_token:
        item = OAuth2Token.query.filter_by(name=name, refresh_token=refresh_token).first()
    elif access_token:
        item = OAuth2Token.query.filter_by(name=name, access_token=access_token).first()
    else:
        return
    item.access_token = token["access_token"]
    item.refresh_token = token.get("refresh_token")
    item.expires_at = token["expires_at"]
    db.session.commit()


oauth = OAuth(fetch_token=fetch_token, update_token=update_token)


def create_app(settings=None) -> Flask:
    app = fixture.new_app(__name__, settings)
    issuer = app.config["DEMO_ISSUER"]
    oauth.init_app(app)
    oauth.register(
        "demo",
        client_id=app.config["DEMO_CLIENT_ID"],
        client_secret=app.config["DEMO_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        api_base_url=f"{issuer}/",
        # The provider requires PKCE (S256) of every client; the docs switch it on here.
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )
    app.add_url_rule("/login", "login", login)
    app.add_url_rule("/callback/demo", "callback", callback)
    app.add_url_rule("/profile", "profile", profile)
    fixture.create_tables(app, OAuth2Token)
    return app


def login():
    return oauth.demo.authorize_redirect(url_for("callback", _external=True))


def callback():
    token = oauth.demo.authorize_access_token()
    claims = token["userinfo"]
    user = fixture.sign_in(claims["sub"], claims.get("name"))
    item = OAuth2Token.query.filter_by(name="demo", user_id=user.id).first()
    if item is None:
        item = OAuth2Token(name="demo", user=user)
        db.session.add(item)
    item.token_type = token["token_type"]
    item.access_token = token["access_token"]
    item.refresh_token = token.get("refresh_token")
    item.expires_at = token["expires_at"]
    db.session.commit()
    return redirect(url_for("profile"))


@login_required
def profile():
    response = oauth.demo.get("api/profile")
    response.raise_for_status()
    return fixture.profile_page(response.json())
