"""What a person sees in a real browser: sign in, consent, deny, a refresh, sign out."""

from __future__ import annotations

import re
import time

from tests.e2e.browser.conftest import screenshot, sign_in


def test_sign_in_with_the_demo_provider_shows_live_profile_data(page, site):
    page.goto(site.url + "/")
    screenshot(page, "home")
    page.get_by_role("link", name="Sign in").first.click()
    screenshot(page, "login")
    page.get_by_role("button", name="Sign in with Demo Provider").click()

    assert "/demo-provider/login" in page.url
    assert page.get_by_text("alice").first.is_visible()  # demo users are listed
    screenshot(page, "provider-login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wonderland")
    page.get_by_role("button", name="Sign in").click()

    consent = page.locator("main")
    assert "Flask Sign-in Reference App" in consent.inner_text()
    assert "See your e-mail address" in consent.inner_text()
    screenshot(page, "consent")
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(site.url + "/profile")
    text = page.locator("main").inner_text()
    assert "Alice Liddell" in text
    assert "Wonderland" in text  # only the provider's API has this
    assert "Connected" in text
    screenshot(page, "profile")


def test_denying_consent_shows_a_friendly_page(page, site):
    page.goto(site.url + "/login")
    page.get_by_role("button", name="Sign in with Demo Provider").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("builder")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url(re.compile(r".*/callback/demo\?.*"))
    assert "You cancelled sign-in with Demo Provider" in page.locator("main").inner_text()
    screenshot(page, "cancelled")


def test_a_reload_after_the_access_token_expired_refreshes_it_first(page, site):
    sign_in(page, site)
    site.expire_access_tokens()
    page.reload()
    assert "Wonderland" in page.locator("main").inner_text()

    page.get_by_role("link", name=re.compile("flow inspector")).click()
    text = page.locator("main").inner_text()
    assert "refresh it first" in text
    assert "refresh_token" in text
    assert "a new one (rotation)" in text
    screenshot(page, "inspector")


def test_signing_out_returns_to_the_home_page_signed_out(page, site):
    sign_in(page, site)
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(site.url + "/")
    assert "You are signed out." in page.locator("main").inner_text()
    page.goto(site.url + "/profile")
    assert "/login" in page.url


def test_the_profile_fits_a_phone_screen(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, site)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    screenshot(page, "profile-phone")
    context.close()
    assert overflow <= 0


def test_revoking_access_at_the_provider_ends_the_apps_session_through_the_back_channel(page, site):
    sign_in(page, site)
    page.goto(site.url + "/demo-provider/connections")
    assert "Flask Sign-in Reference App" in page.locator("main").inner_text()
    screenshot(page, "connected-applications")
    page.get_by_role("button", name=re.compile("Revoke")).first.click()
    page.wait_for_url(re.compile(r".*/demo-provider/connections"))

    # The provider POSTs its logout token to the app from a background thread: the app's
    # session ends within moments of the click.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page.goto(site.url + "/profile")
        if "/login" in page.url:
            break
        page.wait_for_timeout(100)
    assert "Demo Provider ended your session" in page.locator("main").inner_text()
    screenshot(page, "ended-by-provider")

    page.get_by_role("button", name="Sign in with Demo Provider").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(site.url + "/profile")
    assert "Wonderland" in page.locator("main").inner_text()
