"""The demo users' passwords: published ones in development, replaced with
`DEMO_PROVIDER_USER_PASSWORDS`, and required to be replaced before the provider serves production.
"""

import pytest

from demo_provider import create_app, prepare, settings
from demo_provider.extensions import db
from demo_provider.models import User

# These tests are about the stored passwords: hashed as the provider serves them.
pytestmark = pytest.mark.real_password_hashing

ALICE_PASSWORD = "correct horse battery staple"
BOB_PASSWORD = "a different long passphrase"
STRONG = {"alice": ALICE_PASSWORD, "bob": BOB_PASSWORD}

PRODUCTION_SWITCHES = [
    {"DEMO_PROVIDER_PRODUCTION": "true"},
    {"DEMO_PROVIDER_PRODUCTION": True},
    {"APP_ENV": "production"},
]


@pytest.fixture
def instance(tmp_path):
    return str(tmp_path / "instance")


@pytest.mark.parametrize("production", PRODUCTION_SWITCHES, ids=["string", "bool", "app-env"])
def test_production_refuses_the_published_demo_passwords(demo_config, instance, production):
    demo_config.update(production)

    with pytest.raises(ValueError, match="DEMO_PROVIDER_USER_PASSWORDS") as refused:
        create_app(demo_config, instance_path=instance)

    assert "alice, bob" in str(refused.value)


def test_production_in_the_environment_refuses_the_published_passwords(
    demo_config, instance, monkeypatch
):
    monkeypatch.setenv("APP_ENV", "production")

    with pytest.raises(ValueError, match="DEMO_PROVIDER_USER_PASSWORDS"):
        create_app(demo_config, instance_path=instance)


@pytest.mark.parametrize(
    "passwords",
    [
        {"alice": ALICE_PASSWORD},
        {"alice": ALICE_PASSWORD, "bob": "builder"},
        {"alice": ALICE_PASSWORD, "bob": "wonderland"},
        {"alice": ALICE_PASSWORD, "bob": "x" * (settings.MIN_PRODUCTION_PASSWORD_LENGTH - 1)},
    ],
    ids=["bob-left-out", "bob-published", "bob-given-alices", "bob-too-short"],
)
def test_production_refuses_a_demo_user_left_with_a_weak_password(demo_config, instance, passwords):
    demo_config.update(DEMO_PROVIDER_PRODUCTION=True, DEMO_PROVIDER_USER_PASSWORDS=passwords)

    with pytest.raises(ValueError, match="demo users bob would keep") as refused:
        create_app(demo_config, instance_path=instance)

    for password in passwords.values():
        assert password not in str(refused.value)


def test_production_refusal_happens_before_anything_is_written(demo_config, tmp_path):
    demo_config["DEMO_PROVIDER_PRODUCTION"] = True

    with pytest.raises(ValueError, match="DEMO_PROVIDER_USER_PASSWORDS"):
        create_app(demo_config, instance_path=str(tmp_path / "instance"))

    assert not (tmp_path / "instance" / "demo-provider.sqlite3").exists()


def test_production_serves_with_new_passwords_for_every_demo_user(demo_config, instance, flow_for):
    demo_config.update(DEMO_PROVIDER_PRODUCTION=True, DEMO_PROVIDER_USER_PASSWORDS=STRONG)
    flow = flow_for(create_app(demo_config, instance_path=instance).test_client())

    assert flow.sign_in("alice", "wonderland").status_code == 200
    assert not flow.signed_in()
    assert flow.sign_in("alice", ALICE_PASSWORD).status_code == 303
    assert flow.signed_in()


def test_passwords_from_the_environment_are_user_colon_password_pairs(monkeypatch, instance):
    monkeypatch.setenv("DEMO_PROVIDER_USER_PASSWORDS", f" alice:{ALICE_PASSWORD}:x , bob:short,")

    app = create_app(instance_path=instance)

    assert app.config["DEMO_PROVIDER_USER_PASSWORDS"] == {
        "alice": f"{ALICE_PASSWORD}:x",
        "bob": "short",
    }


def test_development_keeps_the_published_password_of_a_user_left_out(
    demo_config, instance, flow_for
):
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = "alice:new-password"
    flow = flow_for(create_app(demo_config, instance_path=instance).test_client())

    assert flow.sign_in("bob", "builder").status_code == 303
    assert flow.sign_in("alice", "wonderland").status_code == 200
    assert flow.sign_in("alice", "new-password").status_code == 303


def test_a_new_password_replaces_an_existing_users_and_keeps_their_subject(
    demo_config, instance, flow_for
):
    before = create_app(demo_config, instance_path=instance)
    prepare(before)
    with before.app_context():
        subject = User.find_by_username("alice").sub
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = STRONG

    after = create_app(demo_config, instance_path=instance)
    flow = flow_for(after.test_client())

    assert flow.sign_in("alice", "wonderland").status_code == 200
    assert flow.sign_in("alice", ALICE_PASSWORD).status_code == 303
    with after.app_context():
        assert User.find_by_username("alice").sub == subject


def test_building_with_new_passwords_changes_no_stored_password(demo_config, instance, flow_for):
    served = create_app(demo_config, instance_path=instance)
    prepare(served)
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = STRONG

    create_app(demo_config, instance_path=instance)

    assert flow_for(served.test_client()).sign_in("alice", "wonderland").status_code == 303


def test_password_hash_is_rewritten_only_when_the_password_changed(demo_config, instance):
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = STRONG
    first = create_app(demo_config, instance_path=instance)
    prepare(first)
    with first.app_context():
        stored = User.find_by_username("alice").password_hash

    second = create_app(demo_config, instance_path=instance)
    prepare(second)

    with second.app_context():
        assert (
            db.session.scalar(db.select(User.password_hash).where(User.username == "alice"))
            == stored
        )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mallory:hunter2-long-enough", "not a demo user"),
        ("hunter2-without-a-colon", "no colon"),
        ("alice:", "is empty"),
        ("alice:one-hunter2,alice:two-hunter2", "twice"),
        ({"alice": None}, "is empty"),
        (["alice", "hunter2"], "must be a mapping"),
    ],
    ids=["unknown-user", "no-colon", "empty", "twice", "none", "list"],
)
def test_malformed_passwords_setting_is_refused_without_repeating_it(
    demo_config, instance, value, message
):
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = value

    with pytest.raises(ValueError, match=message) as refused:
        create_app(demo_config, instance_path=instance)

    assert "hunter2" not in str(refused.value)


def test_login_page_lists_only_accounts_still_on_their_published_password(demo_config, instance):
    demo_config["DEMO_PROVIDER_USER_PASSWORDS"] = {"alice": ALICE_PASSWORD}
    app = create_app(demo_config, instance_path=instance)

    html = app.test_client().get("/login").get_data(as_text=True)

    assert "builder" in html
    assert "wonderland" not in html
    assert ALICE_PASSWORD not in html
    assert "<code>alice</code>" not in html
