"""Fixtures for the end-to-end tests: here `live_provider` and `provider` are the demo provider
itself, live on 127.0.0.1 with a request recorder, with this app registered as its client
"reference-app" (the client's own tests get the fake provider under the same names). The demo
users' passwords are hashed cheaply: nothing here is about hashing, and scrypt is slow on purpose
at every sign-in.
"""

from __future__ import annotations

import functools

import pytest
from werkzeug.security import generate_password_hash

from demo_provider import users
from tests.conftest import BASE_URL, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from tests.e2e.live_demo import serve_demo_provider


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes():
    quick = functools.cache(lambda password: generate_password_hash(password, "pbkdf2:sha256:1"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "_demo_password_hash", quick)
        patch.setattr(users, "_decoy_hash", lambda: quick("decoy"))
        yield


@pytest.fixture(scope="session")
def live_provider(tmp_path_factory):
    """The demo provider, with this app registered as the client "reference-app"."""
    live, server = serve_demo_provider(
        str(tmp_path_factory.mktemp("demo-provider")),
        [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [REDIRECT_URI],
                "post_logout_redirect_uris": [f"{BASE_URL}/logout/complete"],
                "client_name": "Flask Sign-in Reference App",
                "scope": "openid profile email offline_access contacts.read",
            }
        ],
    )
    yield live
    server.stop()


@pytest.fixture
def provider(live_provider):
    """The live demo provider with an empty request log and no planted faults."""
    live_provider.recorder.clear()
    yield live_provider
    live_provider.recorder.clear()
