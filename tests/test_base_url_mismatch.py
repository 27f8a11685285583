"""A page reached at another address than BASE_URL says so in development, with what to do;
redirect URIs still come from BASE_URL only, never from the Host header.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.forms import csrf_token


def test_a_page_opened_on_another_port_explains_base_url(client):
    page = client.get("/login", base_url="http://127.0.0.1:5051")
    text = page.get_data(as_text=True)

    assert page.status_code == 200
    assert "This page was opened at http://127.0.0.1:5051" in text
    assert "<code>BASE_URL</code> is http://localhost." in text
    assert "make run PORT=5051" in text
    assert "BASE_URL=http://127.0.0.1:5051" in text


def test_the_redirect_uri_stays_the_base_urls_whatever_the_host(client):
    page = client.get("/login", base_url="http://127.0.0.1:5051").get_data(as_text=True)
    response = client.post(
        "/login/demo", data={"csrf_token": csrf_token(page)}, base_url="http://127.0.0.1:5051"
    )
    assert response.status_code == 303
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["redirect_uri"] == ["http://localhost/callback/demo"]


def test_a_page_at_base_url_shows_no_explanation(client):
    assert "This page was opened at" not in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("host", ["localhost:abc", "evil.example:99999", "[::1"])
def test_a_malformed_host_is_explained_without_an_error(client, host):
    page = client.get("/login", headers={"Host": host})
    assert page.status_code in (200, 400)
    assert "Traceback" not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "app_overrides", [{"APP_ENV": "production", "BASE_URL": "https://app.example"}]
)
def test_production_never_shows_it(client):
    page = client.get("/login", base_url="https://other.example")
    assert "This page was opened at" not in page.get_data(as_text=True)
