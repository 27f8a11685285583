"""The client against oidc-provider, an OpenID Certified provider written by others: the code
flow with PKCE, nonce, discovery, JWKS and ID token checks, and OIDC Back-Channel Logout, over
real HTTP on 127.0.0.1 in both directions.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.forms import csrf_token
from tests.interop import driver
from tests.interop.conftest import CLIENT_ID, PROVIDER_NAME, TITLE


def start_sign_in(browser, site):
    """Click "Sign in with Corp SSO" on the app's sign-in page; the app's redirect answer."""
    page = browser.get(f"{site.url}/login", timeout=driver.TIMEOUT)
    assert f"Sign in with {TITLE}" in page.text
    return browser.post(
        f"{site.url}/login/{PROVIDER_NAME}",
        data={"csrf_token": csrf_token(page.text)},
        allow_redirects=False,
        timeout=driver.TIMEOUT,
    )


def sign_in(browser, site):
    """The whole sign-in at oidc-provider as alice; the page the app ends on."""
    started = start_sign_in(browser, site)
    assert started.status_code == 303, started.text
    return driver.sign_in(browser, started, site.url)


def test_sign_in_through_oidc_provider_ends_on_the_profile(browser, site):
    started = start_sign_in(browser, site)

    assert started.status_code == 303
    assert started.headers["Location"].startswith(site.provider.issuer + "/")
    landed = driver.sign_in(browser, started, site.url)

    assert landed.status_code == 200, landed.text
    assert landed.url == f"{site.url}/profile"
    assert "Alice Liddell" in landed.text


def test_logout_at_oidc_provider_ends_the_session_through_the_back_channel(browser, site):
    profile = sign_in(browser, site)
    assert profile.url == f"{site.url}/profile"
    assert "Alice Liddell" in profile.text
    delivered = len(site.provider.lines)

    # The person signs out at the provider, not at the app: only the logout token that the
    # provider posts to the app's back-channel URI can end the app's session.
    signed_out = driver.sign_out_at_provider(browser, site.provider.issuer, client_id=CLIENT_ID)

    assert signed_out.status_code == 200, signed_out.text
    # The provider posts the logout token before it answers the browser, and reports how the
    # app answered: anything but 200 (or 204) is an error there.
    reports = site.provider.lines_after(delivered, "backchannel")
    assert len(reports) == 1, site.provider.output()
    assert reports[0].startswith(f"backchannel.success {CLIENT_ID} alice "), reports[0]
    after = browser.get(f"{site.url}/profile", timeout=driver.TIMEOUT)
    assert not (urlsplit(after.url).path == "/profile" and "Alice Liddell" in after.text), (
        "still signed in at the app after the provider ended the session"
    )
