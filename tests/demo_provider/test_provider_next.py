"""The provider's own `next` after sign-in follows the client's rule, encoded variants included:
one function decides for both (blueprints/next_url.py).
"""

import pytest


@pytest.mark.parametrize(
    "next_path",
    ["/%2F%2Fevil.example/", "/%5Cevil.example/", "/%2f/evil.example", "/%09/evil.example"],
)
def test_login_never_redirects_to_an_encoded_other_site(flow, next_path):
    response = flow.sign_in(next_path=next_path)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_login_still_returns_to_a_long_authorization_request(flow):
    next_path = "/authorize?client_id=x&state=" + "s" * 3000
    response = flow.sign_in(next_path=next_path)

    assert response.status_code == 303
    assert response.headers["Location"] == next_path
