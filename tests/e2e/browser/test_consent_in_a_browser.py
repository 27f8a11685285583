"""Consent that changes, in a real browser: a box unticked at sign-in, a feature page that asks
for one more permission later and gets it, and one that is refused and says so.

Each test first revokes, at the demo provider, what its person allowed in earlier tests: the
provider is shared by the session's tests, and `include_granted_scopes` would otherwise carry an
earlier grant into this one's consent.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.browser.conftest import screenshot, start_with_no_grant
from tests.feature_pages import CONTACTS_PAGE


def facts_value(page, term: str):
    """The value a person reads next to `term` in a list of facts (a <dd> after its <dt>)."""
    return page.locator("dt", has_text=term).locator("xpath=following-sibling::dd[1]")


def start_sign_in(page, site) -> None:
    """Press "Sign in with Demo Provider" (already signed in there: straight to its consent)."""
    page.goto(site.url + "/login")
    page.get_by_role("button", name="Sign in with Demo Provider").click()
    page.get_by_role("button", name="Allow").wait_for()


def test_an_unticked_box_and_a_permission_allowed_later(page, site):
    start_with_no_grant(page, site, "alice", "wonderland")
    start_sign_in(page, site)
    email = page.get_by_label("See your e-mail address")
    assert email.is_checked()  # everything asked for is offered ticked
    email.uncheck()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(site.url + "/profile")
    expect(page.locator("main")).to_contain_text("Wonderland")
    expect(facts_value(page, "Asked for, not granted")).to_contain_text("email")
    expect(facts_value(page, "Granted scopes")).not_to_contain_text("email")
    # Live from the provider's API, which now keeps the address to itself.
    linked = page.get_by_role("region", name="Demo Provider")
    expect(linked).to_contain_text("Alice Liddell")
    expect(linked.locator("dt", has_text="E-mail")).to_have_count(0)

    page.get_by_role("link", name="Your contacts at Demo Provider").click()
    page.wait_for_url(site.url + CONTACTS_PAGE)
    main = page.locator("main")
    expect(main).to_contain_text("This page needs one more permission from Demo Provider")
    expect(facts_value(page, "Permission")).to_have_text("contacts.read")
    expect(facts_value(page, "Why")).to_contain_text("address book")
    expect(main).not_to_contain_text("White Rabbit")
    screenshot(page, "contacts-needs-permission")
    page.get_by_role("button", name="Allow at Demo Provider").click()

    # At the provider: what was allowed at sign-in is not asked again, and only the new
    # permission has a box. The unticked e-mail is not asked for again either.
    page.wait_for_url("**/demo-provider/authorize**")
    already = page.get_by_role("listitem").filter(has_text="(already allowed)")
    expect(already.filter(has_text="See your name, username and profile")).to_have_count(1)
    expect(already.filter(has_text="Keep access while you are away")).to_have_count(1)
    boxes = page.get_by_role("checkbox")
    expect(boxes).to_have_count(1)
    expect(page.get_by_label("See your contacts")).to_be_checked()
    expect(page.locator("main")).not_to_contain_text("See your e-mail address")
    screenshot(page, "consent-incremental")
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(site.url + CONTACTS_PAGE)
    expect(page.locator("main")).to_contain_text("Demo Provider allowed: contacts.read.")
    contacts = page.get_by_role("table")
    expect(contacts).to_contain_text("White Rabbit")
    expect(contacts).to_contain_text("hatter@example.org")
    expect(page.get_by_role("button", name="Allow at Demo Provider")).to_have_count(0)
    screenshot(page, "contacts")

    page.get_by_role("link", name="Back to your profile").click()
    expect(facts_value(page, "Granted scopes")).to_contain_text("contacts.read")
    expect(facts_value(page, "Asked for, not granted")).to_contain_text("email")

    # The provider lists the new permission with a button of its own to take it back, and the
    # list (long key thumbprints and all) fits a phone screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/demo-provider/connections")
    expect(page.get_by_role("button", name="Remove: See your contacts")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_a_permission_denied_at_the_provider_leaves_the_feature_unavailable(page, site):
    start_with_no_grant(page, site, "bob", "builder")
    start_sign_in(page, site)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(site.url + "/profile")

    page.get_by_role("link", name="Your contacts at Demo Provider").click()
    page.get_by_role("button", name="Allow at Demo Provider").click()
    page.wait_for_url("**/demo-provider/authorize**")
    expect(page.get_by_label("See your contacts")).to_be_visible()
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url(site.url + CONTACTS_PAGE)
    main = page.locator("main")
    expect(main).to_contain_text(
        "This feature is unavailable: you did not allow it at Demo Provider."
    )
    expect(main).to_contain_text("Nothing else changed: your link to Demo Provider is as it was.")
    expect(page.get_by_role("button", name="Ask Demo Provider again")).to_be_visible()
    expect(page.get_by_role("button", name="Allow at Demo Provider")).to_have_count(0)
    expect(main).not_to_contain_text("Wendy")  # bob's contacts

    page.get_by_role("link", name="Back to your profile").click()
    page.wait_for_url(site.url + "/profile")
    expect(main).to_contain_text("Bob the Builder")
    expect(main).to_contain_text("Sunflower Valley")  # only the provider's API has this
    expect(main).to_contain_text("Connected")
    expect(facts_value(page, "Asked for, not granted")).to_contain_text("contacts.read")
