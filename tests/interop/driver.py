"""A person's browser at oidc-provider, as plain HTTP: its development login and consent pages
(devInteractions) on the way to the client app, and its logout confirmation page."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from tests.forms import Form, forms

# Seconds for any one request: both servers are on 127.0.0.1, so only a hang takes this long.
TIMEOUT = 10
# Login, consent and the redirects between them take about six; more means a loop.
MAX_STEPS = 12


def sign_in(
    browser: requests.Session,
    start: str | requests.Response,
    client_url: str,
    login: str = "alice",
    password: str = "any password",
) -> requests.Response:
    """Walk from `start` (the authorization URL, or the client's redirect to it) through the
    provider's pages until it sends the browser back to the client app at `client_url`; return
    the client's answer to that callback, with the client's own redirects followed."""
    response = browser.get(_location(start), allow_redirects=False, timeout=TIMEOUT)
    for _ in range(MAX_STEPS):
        if response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if _belongs_to(target, client_url):
                return browser.get(target, timeout=TIMEOUT)
            response = browser.get(target, allow_redirects=False, timeout=TIMEOUT)
        else:
            response = _answer(browser, response, login, password)
    raise AssertionError(f"no way back to the client after {MAX_STEPS} steps: {response.url}")


def sign_out_at_provider(
    browser: requests.Session, issuer: str, **params: str
) -> requests.Response:
    """RP-initiated logout at the provider: open its end_session endpoint with `params`
    (client_id, id_token_hint, post_logout_redirect_uri, state), answer "Yes, sign me out", and
    return the page the browser ends on."""
    discovery = browser.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
    discovery.raise_for_status()
    page = browser.get(discovery.json()["end_session_endpoint"], params=params, timeout=TIMEOUT)
    form = _form(page, lambda form: "xsrf" in form.fields)
    # The page's buttons sit outside the form and name it (`form="op.logoutForm"`); the "Yes"
    # one adds logout=yes, which ends the whole session at the provider and so signs the
    # browser out of every client that took part in it.
    return browser.post(form.action, data={**form.fields, "logout": "yes"}, timeout=TIMEOUT)


def _answer(
    browser: requests.Session, page: requests.Response, login: str, password: str
) -> requests.Response:
    """Submit the login or the consent form on a provider page."""
    form = _form(page, lambda form: "login" in form.input_names or "prompt" in form.fields)
    data = dict(form.fields)
    if data.get("prompt") == "login":
        # devInteractions takes any password; the login name is the account id it looks up.
        data.update(login=login, password=password)
    return browser.post(form.action, data=data, allow_redirects=False, timeout=TIMEOUT)


def _form(page: requests.Response, wanted) -> Form:
    """The first form on the page that `wanted` accepts; else fail with what the page says."""
    if page.status_code == 200:
        for form in forms(page.text, page.url):
            if wanted(form):
                return form
    raise AssertionError(f"unexpected page at {page.url} ({page.status_code}):\n{page.text[:3000]}")


def _location(start: str | requests.Response) -> str:
    if isinstance(start, str):
        return start
    assert start.is_redirect, f"{start.url} answered {start.status_code}, not a redirect"
    return urljoin(start.url, start.headers["Location"])


def _belongs_to(url: str, base_url: str) -> bool:
    return url == base_url or url.startswith(base_url.rstrip("/") + "/")
