"""The maintenance commands: key rotation, refreshing ahead of expiry, purging dead data."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from accounts import tokens
from extensions import db
from models import (
    AcceptedLogoutToken,
    LinkedAccount,
    LinkStatus,
    LoginAttempt,
    User,
    UserSession,
    utcnow,
)


def the_link() -> LinkedAccount:
    return db.session.scalars(select(LinkedAccount)).one()


def use_keys(app, keys: str) -> None:
    app.config["TOKEN_ENCRYPTION_KEYS"] = keys
    tokens.init_app(app)


def test_reencrypt_moves_every_token_to_the_new_key(flow, app, runner, client):
    flow.sign_in("alice")
    old_key, new_key = app.config["TOKEN_ENCRYPTION_KEYS"], Fernet.generate_key().decode()
    with app.app_context():
        access = tokens.decrypt(the_link().access_token_ciphertext)

    use_keys(app, f"{new_key},{old_key}")
    result = runner.invoke(args=["tokens", "reencrypt"])
    assert result.exit_code == 0
    assert "re-encrypted 1 links; 0 unreadable" in result.output

    use_keys(app, new_key)  # the old key is retired
    with app.app_context():
        assert tokens.decrypt(the_link().access_token_ciphertext) == access
    assert "Wonderland" in client.get("/profile").get_data(as_text=True)


def test_reencrypt_marks_unreadable_tokens_for_reconnection(flow, app, runner):
    flow.sign_in("alice")
    use_keys(app, Fernet.generate_key().decode())  # the key the tokens were written with is lost

    result = runner.invoke(args=["tokens", "reencrypt"])

    assert "0 links; 1 unreadable" in result.output
    with app.app_context():
        link = the_link()
        assert link.status == LinkStatus.RECONNECT_NEEDED
        assert link.access_token_ciphertext is None


def test_refresh_expiring_refreshes_tokens_ahead_of_time(flow, app, runner, provider):
    flow.sign_in("alice")
    with app.app_context():
        link = the_link()
        link.expires_at = utcnow() + timedelta(seconds=200)
        db.session.commit()
    provider.recorder.clear()

    result = runner.invoke(args=["tokens", "refresh-expiring", "--within", "300"])

    assert result.exit_code == 0
    assert "refreshed 1 links; 0 failed" in result.output
    assert len(provider.recorder.token_requests("refresh_token")) == 1
    with app.app_context():
        assert the_link().expires_at > utcnow() + timedelta(seconds=250)


def test_refresh_expiring_leaves_tokens_that_are_not_due(flow, runner, provider):
    flow.sign_in("alice")
    provider.recorder.clear()
    result = runner.invoke(args=["tokens", "refresh-expiring", "--within", "60"])
    assert "refreshed 0 links" in result.output
    assert provider.recorder.token_requests("refresh_token") == []


def test_refresh_expiring_reports_a_provider_outage_and_keeps_the_tokens(
    flow, app, runner, provider
):
    flow.sign_in("alice")
    with app.app_context():
        before = the_link().refresh_token_ciphertext
    provider.recorder.fail("/token", 503)

    result = runner.invoke(args=["tokens", "refresh-expiring", "--within", "3600"])

    assert result.exit_code == 1
    assert "1 failed" in result.output
    with app.app_context():
        assert the_link().refresh_token_ciphertext == before


def test_purge_removes_expired_attempts_and_dead_links_but_never_the_last_one(app, runner):
    long_ago = utcnow() - timedelta(days=100)
    with app.app_context():
        both = User(display_name="Two links")
        single = User(display_name="One link")
        db.session.add_all(
            [
                LinkedAccount(user=both, provider="demo", subject="a"),
                LinkedAccount(
                    user=both,
                    provider="corp",
                    subject="b",
                    status=LinkStatus.RECONNECT_NEEDED,
                    updated_at=long_ago,
                ),
                LinkedAccount(
                    user=single,
                    provider="demo",
                    subject="c",
                    status=LinkStatus.RECONNECT_NEEDED,
                    updated_at=long_ago,
                ),
                LoginAttempt(
                    id="x" * 64,
                    provider="demo",
                    nonce="n",
                    code_verifier_ciphertext=tokens.encrypt("v"),
                    expires_at=long_ago,
                ),
                # Ended long ago, idle long ago, and one in use: only the first two go.
                UserSession(user=both, ended_at=long_ago, last_seen_at=long_ago),
                UserSession(user=both, last_seen_at=long_ago),
                UserSession(user=single, browser="in use"),
                AcceptedLogoutToken(issuer="https://idp.example", jti="old", expires_at=long_ago),
                AcceptedLogoutToken(
                    issuer="https://idp.example", jti="new", expires_at=utcnow() + timedelta(1)
                ),
            ]
        )
        db.session.commit()

    result = runner.invoke(args=["tokens", "purge", "--older-than-days", "30"])

    assert (
        "removed 1 expired sign-in attempts, 2 old sessions, 1 remembered logout tokens and "
        "1 dead links; kept 1"
    ) in result.output
    with app.app_context():
        assert list(db.session.scalars(select(UserSession.browser))) == ["in use"]
        assert list(db.session.scalars(select(AcceptedLogoutToken.jti))) == ["new"]
    with app.app_context():
        remaining = db.session.execute(select(LinkedAccount.subject).order_by("subject")).scalars()
        assert list(remaining) == ["a", "c"]
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
