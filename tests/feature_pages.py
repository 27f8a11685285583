"""The feature page the consent tests open (the demo provider's contacts) and its one button."""

from __future__ import annotations

from tests.forms import csrf_token

CONTACTS_PAGE = "/features/demo/contacts"


def press_allow(client) -> str:
    """Press the page's one button; return the authorization URL it sends the browser to."""
    page = client.get(CONTACTS_PAGE).get_data(as_text=True)
    answer = client.post(CONTACTS_PAGE + "/allow", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303
    return answer.headers["Location"]
