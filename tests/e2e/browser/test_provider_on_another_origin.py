"""A provider on an origin of its own, as every real provider is: the page's Content-Security-Policy
(`form-action` lists only this site and the providers) lets Chromium follow "Sign in with ..." and
"Sign out here and at ..." to it, and nothing else changes for the person.
"""

from __future__ import annotations

import pytest

from tests.e2e.browser.conftest import serve_client
from tests.e2e.live_demo import serve_demo_provider
from tests.live_provider import LiveServer

CLIENT_SECRET = "another-origin-" + "z" * 24


@pytest.fixture(scope="module")
def site_and_provider(tmp_path_factory):
    server = LiveServer()
    provider, provider_server = serve_demo_provider(
        str(tmp_path_factory.mktemp("other-origin-provider")),
        [
            {
                "client_id": "reference-app",
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [server.url + "/callback/demo"],
                "post_logout_redirect_uris": [server.url + "/logout/complete"],
                "client_name": "Flask Sign-in Reference App",
                "scope": "openid profile email offline_access",
            }
        ],
    )
    serve_client(
        server,
        tmp_path_factory.mktemp("other-origin-app"),
        DEMO_ISSUER=provider.issuer,
        DEMO_PROVIDER_EMBEDDED=False,
        DEMO_CLIENT_SECRET=CLIENT_SECRET,
    )
    yield server.url, provider
    server.stop()
    provider_server.stop()


def test_sign_in_and_out_at_a_provider_on_another_origin(page, site_and_provider):
    site_url, provider = site_and_provider
    assert site_url.rsplit(":", 1)[1] != provider.issuer.rsplit(":", 1)[1]
    blocked = []
    page.on("console", lambda message: blocked.append(message.text))

    page.goto(site_url + "/login")
    page.get_by_role("button", name="Sign in with Demo Provider").click()
    page.wait_for_url(provider.issuer + "/login**")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wonderland")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(site_url + "/profile")
    assert "Wonderland" in page.locator("main").inner_text()

    visited = []
    page.on("request", lambda request: visited.append(request.url))
    page.get_by_role("button", name="Sign out here and at Demo Provider").click()
    page.wait_for_url(site_url + "/")
    # The form's redirect went to the provider's end-session endpoint and back.
    assert any(url.startswith(provider.issuer + "/end-session?") for url in visited)
    assert "signed out here and at the provider" in page.locator("main").inner_text()
    assert not [text for text in blocked if "Content Security Policy" in text]
