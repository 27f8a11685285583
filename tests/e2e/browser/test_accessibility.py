"""An automated accessibility audit (axe-core, from the npm registry) of every page a person
meets, in the app and at the demo provider: no serious or critical violation. Each test walks
its pages in one browser context, as a person would reach them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser.conftest import sign_in, start_with_no_grant

AXE = (
    Path(__file__).resolve().parents[3]
    / ".cache"
    / "axe"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)

pytestmark = pytest.mark.skipif(
    not AXE.exists(), reason="axe-core is not installed (make browser-deps)"
)


@pytest.fixture
def audited(browser):
    # The pages forbid inline scripts (CSP script-src 'self'); the audit's own script needs in.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    # Only violations are read: axe then spends no time detailing the rules that pass.
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_app_pages_have_no_serious_accessibility_violations(audited, site):
    page = audited
    for path in ("/", "/login", "/no-such-page"):
        page.goto(site.url + path)
        assert serious_violations(page) == [], path
    sign_in(page, site)
    assert serious_violations(page) == [], "/profile"
    page.goto(site.url + "/inspector")
    assert serious_violations(page) == [], "/inspector"


def test_the_provider_pages_have_no_serious_accessibility_violations(audited, site):
    """Consent scope by scope (a box each), asking for more later (what is already allowed, and
    a box for the rest), the feature page before and after, and the connected applications with
    a Remove button per scope."""
    page = audited
    page.goto(site.url + "/demo-provider/connections")
    assert serious_violations(page) == [], "provider login"
    # From no grant, so that the consent pages below offer their boxes.
    start_with_no_grant(page, site, "bob", "builder")
    page.goto(site.url + "/login")
    page.get_by_role("button", name="Sign in with Demo Provider").click()
    page.get_by_label("See your e-mail address").uncheck()
    assert serious_violations(page) == [], "consent"
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(site.url + "/profile")
    assert serious_violations(page) == [], "/profile with a scope not granted"

    page.get_by_role("link", name="Your contacts at Demo Provider").click()
    page.wait_for_url(site.url + "/features/demo/contacts")
    assert serious_violations(page) == [], "contacts, needing permission"
    page.get_by_role("button", name="Allow at Demo Provider").click()
    page.get_by_label("See your contacts").wait_for()
    assert page.get_by_text("(already allowed)").count() > 0
    assert serious_violations(page) == [], "consent asking for more"
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("table").wait_for()
    assert serious_violations(page) == [], "contacts, with data"

    page.goto(site.url + "/demo-provider/connections")
    assert page.get_by_role("button", name="Remove").count() > 0
    assert serious_violations(page) == [], "connected applications"
    page.goto(site.url + "/demo-provider/")
    assert serious_violations(page) == [], "provider home"
