"""The client with `<NAME>_PROFILE=fapi2` against oidc-provider run as a FAPI 2.0 provider, an
implementation written by others: pushed authorization requests, private_key_jwt with the
client's own keys, DPoP-bound tokens with server nonces (token endpoint, refresh and userinfo),
RFC 9207 `iss`, ES256 ID tokens, refresh token rotation, and revocation when the account goes.

The provider prints what it saw (`oidc_server.mjs`, `report`); the assertions read it back, so a
step the app skipped or did without DPoP shows up here even when the pages look right.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from tests.forms import csrf_token
from tests.interop import driver
from tests.interop.conftest import FAPI_CLIENT_ID, FAPI_TITLE

# The only error the provider may answer with in a good run: the DPoP nonce it asks for (the
# client's first proof cannot know it), which the client retries once with.
NONCE_ERROR = "use_dpop_nonce"
REFRESHES = 2


def events(provider, start: int, name: str) -> list[list[str]]:
    """The provider's report lines from index `start` on that start with `name`, split in words."""
    return [line.split(" ") for line in provider.lines[start:] if line.split(" ")[0] == name]


def fields(words: list[str]) -> dict[str, str]:
    """The `key=value` words of a report line."""
    return dict(word.split("=", 1) for word in words if "=" in word)


def refused(provider, start: int) -> list[str]:
    """The errors the provider answered with since `start`, bar the nonce it asks for."""
    return [
        line
        for line in provider.lines[start:]
        if line.startswith("server_error")
        or (line.startswith("error ") and line.split(" ")[2] != NONCE_ERROR)
    ]


def requests_to(provider, start: int, route: str) -> list[dict[str, str]]:
    """The provider's requests to `route` since `start`: status, dpop and authorization."""
    return [
        {"status": line[2], **fields(line)}
        for line in events(provider, start, "http")
        if line[1] == route
    ]


def post_from_profile(browser, site, path: str, **data: str):
    """Submit a form of the profile page (with its CSRF token); the app's answer, unfollowed."""
    page = browser.get(f"{site.url}/profile", timeout=driver.TIMEOUT)
    assert page.url == f"{site.url}/profile", page.url
    return browser.post(
        f"{site.url}{path}",
        data={"csrf_token": csrf_token(page.text), **data},
        allow_redirects=False,
        timeout=driver.TIMEOUT,
    )


@pytest.fixture
def signed_in(browser, fapi_site):
    """Alice signed in through the FAPI 2.0 provider; the index of the provider's first report
    line for this sign-in, and the page the app ended on."""
    provider = fapi_site.provider
    start = len(provider.lines)
    page = browser.get(f"{fapi_site.url}/login", timeout=driver.TIMEOUT)
    assert f"Sign in with {FAPI_TITLE}" in page.text
    started = browser.post(
        f"{fapi_site.url}/login/{fapi_site.name}",
        data={"csrf_token": csrf_token(page.text)},
        allow_redirects=False,
        timeout=driver.TIMEOUT,
    )
    assert started.status_code == 303, (started.text, provider.output())
    location = started.headers["Location"]
    assert location.startswith(provider.issuer + "/"), location
    # Pushed: the browser carries the client id and an opaque handle, nothing of the request.
    assert set(parse_qs(urlsplit(location).query)) == {"client_id", "request_uri"}, location
    landed = driver.sign_in(browser, started, fapi_site.url)
    assert landed.url == f"{fapi_site.url}/profile", (landed.text[:2000], provider.output())
    provider.settle()
    return start, landed


def test_fapi2_sign_in_refresh_and_deletion_against_oidc_provider(browser, fapi_site, signed_in):
    provider = fapi_site.provider
    start, landed = signed_in
    assert landed.status_code == 200
    assert "Alice Liddell" in landed.text

    # The authorization request was pushed, with the thumbprint of the key to bind the code to.
    pushed = events(provider, start, "pushed_authorization_request.success")
    assert len(pushed) == 1, provider.output()
    assert pushed[0][1] == FAPI_CLIENT_ID
    jkt = fields(pushed[0])["dpop_jkt"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", jkt), pushed[0]
    # RFC 9207: the response said who sent it (the app requires it with fapi2).
    authorized = events(provider, start, "authorization.success")
    assert [fields(line)["iss"] for line in authorized] == [provider.issuer]
    # The code was redeemed for tokens bound to that same key.
    granted = events(provider, start, "grant.success")
    assert len(granted) == 1, provider.output()
    assert granted[0][1] == "authorization_code"
    assert fields(granted[0]) == {
        "token_type": "DPoP",
        "access_token_jkt": jkt,
        "refresh_token": "yes",
        "rotated": "no",
    }
    # The token endpoint asked for its DPoP nonce, and the one retry with it was answered;
    # the client proved itself with its signed assertion in the body, never a header.
    token_calls = requests_to(provider, start, "token")
    assert [call["status"] for call in token_calls] == ["400", "200"], provider.output()
    assert {(call["dpop"], call["authorization"]) for call in token_calls} == {("yes", "-")}
    # Every call with the access token presented it as a DPoP token, with a proof, and the
    # nonce the token endpoint gave was good there too (no 401 asking for one).
    userinfo = requests_to(provider, start, "userinfo")
    assert userinfo, provider.output()
    assert {(call["status"], call["dpop"], call["authorization"]) for call in userinfo} == {
        ("200", "yes", "DPoP")
    }
    assert not refused(provider, start), provider.output()

    for number in range(1, REFRESHES + 1):
        before = len(provider.lines)
        answer = post_from_profile(browser, fapi_site, f"/profile/refresh/{fapi_site.name}")

        assert answer.status_code == 303, answer.text
        page = browser.get(urljoin(answer.url, answer.headers["Location"]), timeout=driver.TIMEOUT)
        assert "access token was refreshed" in page.text, (number, page.text, provider.output())
        assert "Alice Liddell" in page.text
        provider.settle()
        refreshed = events(provider, before, "grant.success")
        assert [line[1] for line in refreshed] == ["refresh_token"], provider.output()
        # Still bound to the sign-in's key, and the refresh token spent and replaced: the
        # next round would fail with invalid_grant had the app kept the old one.
        assert fields(refreshed[0]) == {
            "token_type": "DPoP",
            "access_token_jkt": jkt,
            "refresh_token": "yes",
            "rotated": "yes",
        }, number
        assert not refused(provider, before), provider.output()

    before = len(provider.lines)
    deleted = post_from_profile(browser, fapi_site, "/profile/delete", confirm="yes")

    assert deleted.status_code in (302, 303), (deleted.status_code, deleted.text)
    assert urlsplit(deleted.headers["Location"]).netloc in ("", urlsplit(fapi_site.url).netloc), (
        "the deletion asked for a new sign-in at the provider instead of happening now"
    )
    provider.settle()
    revoked = [line for line in provider.lines[before:] if line.startswith("revocation.success")]
    assert revoked, provider.output()
    # The refresh token first: revoking it ends the whole grant.
    assert [line.split(" ")[1] for line in revoked] == [FAPI_CLIENT_ID] * len(revoked)
    assert fields(revoked[0].split(" "))["revoked"] == "refresh_token", provider.output()
    assert events(provider, before, "grant.revoked"), provider.output()
    assert not refused(provider, before), provider.output()
    after = browser.get(f"{fapi_site.url}/profile", timeout=driver.TIMEOUT)
    assert "Alice Liddell" not in after.text
