"""Peer: Flask-Dance's `OAuth2ConsumerBlueprint` with its SQLAlchemy token storage, as its
documentation shows: the token stored per user (`SQLAlchemyStorage(OAuth, db.session,
user=current_user)`), the person signed in from the `oauth_authorized` signal, the profile
fetched through the blueprint's session, which refreshes an expired token itself
(`auto_refresh_url`) and saves the new one to the storage.

Two settings only because the demo provider asks for them: `use_pkce=True` (PKCE S256 is
required of every client), and OAUTHLIB_INSECURE_TRANSPORT=1 in the deployment's environment
(requests-oauthlib, underneath, refuses plain http, even on 127.0.0.1; the docs say to set it
for local testing).

Served by gunicorn as `bench.peers.flask_dance_client:create_app()`.
"""

from __future__ import annotations

from flask import Flask, current_app, redirect, url_for
from flask_dance.consumer import OAuth2ConsumerBlueprint, oauth_authorized
from flask_dance.consumer.storage.sqla import OAuthConsumerMixin, SQLAlchemyStorage
from flask_login import current_user, login_required

from bench.peers import fixture
from bench.peers.fixture import db

NAME = "demo"
# Plain OAuth 2.0: Flask-Dance does no OpenID Connect (no nonce, no ID token check), so who the
# person is comes from the profile API.
SCOPE = ["profile", "email", "offline_access"]


class OAuth(OAuthConsumerMixin, db.Model):
    """The docs' token model (table flask_dance_oauth): the token as JSON, per user."""

    user_id = db.Column(db.Integer, db.ForeignKey(fixture.User.id))
    user = db.relationship(fixture.User)


def create_app(settings=None) -> Flask:
    app = fixture.new_app(__name__, settings)
    issuer = app.config["DEMO_ISSUER"]
    blueprint = OAuth2ConsumerBlueprint(
        NAME,
        __name__,
        client_id=app.config["DEMO_CLIENT_ID"],
        client_secret=app.config["DEMO_CLIENT_SECRET"],
        base_url=f"{issuer}/",
        authorization_url=f"{issuer}/authorize",
        token_url=f"{issuer}/token",
        auto_refresh_url=f"{issuer}/token",
        scope=SCOPE,
        use_pkce=True,
        login_url="/login",
        authorized_url="/callback/demo",
        redirect_to="profile",
        storage=SQLAlchemyStorage(OAuth, db.session, user=current_user),
    )
    oauth_authorized.connect(signed_in, sender=blueprint)
    app.register_blueprint(blueprint)
    app.add_url_rule("/profile", "profile", profile)
    fixture.create_tables(app, OAuth)
    return app


def signed_in(blueprint, token):
    """Sign the person in as the provider's profile says; Flask-Dance then stores the token for
    them (the storage's user is the one now signed in)."""
    response = blueprint.session.get("api/profile")
    if not response.ok:
        # The docs' answer: do not store a token that cannot tell who this is.
        return False
    details = response.json()
    fixture.sign_in(details["sub"], details.get("name"))
    return None


@login_required
def profile():
    demo = current_app.blueprints[NAME].session
    if not demo.authorized:
        return redirect(url_for(f"{NAME}.login"))
    response = demo.get("api/profile")
    response.raise_for_status()
    return fixture.profile_page(response.json())
