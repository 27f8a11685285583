"""`next` only ever leads to a path on this site."""

import pytest

from blueprints.next_url import safe_next_url


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "%09//evil.example",
        "/%09/evil.example",
        "http://localhost@evil.example",
        "/" + "a" * 5000,
        "",
        None,
    ],
)
def test_next_urls_that_could_leave_the_site_are_dropped(value):
    assert safe_next_url(value) is None


@pytest.mark.parametrize("value", ["/", "/profile", "/settings?tab=2", "/a/b#c"])
def test_same_site_paths_are_kept(value):
    assert safe_next_url(value) == value
