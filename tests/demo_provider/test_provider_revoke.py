"""The demo provider's RFC 7009 revocation endpoint."""


def test_revoking_a_refresh_token_ends_the_grant(flow):
    body, _ = flow.tokens()

    response = flow.revoke(body["refresh_token"], hint="refresh_token")

    assert response.status_code == 200
    assert flow.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert flow.userinfo(body["access_token"]).status_code == 401


def test_revoking_an_access_token_stops_it_at_userinfo(flow):
    body, _ = flow.tokens()

    response = flow.revoke(body["access_token"], hint="access_token")

    assert response.status_code == 200
    assert flow.userinfo(body["access_token"]).status_code == 401


def test_revocation_finds_the_token_despite_a_wrong_hint(flow):
    body, _ = flow.tokens()

    flow.revoke(body["refresh_token"], hint="access_token")

    assert flow.refresh(body["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_is_still_200(flow):
    response = flow.revoke("never-issued")

    assert response.status_code == 200


def test_a_client_cannot_revoke_another_clients_token(flow):
    body, _ = flow.tokens()

    response = flow.revoke(
        body["refresh_token"],
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
    )

    assert response.status_code == 200
    assert flow.refresh(body["refresh_token"]).status_code == 200


def test_revocation_requires_client_authentication(flow):
    body, _ = flow.tokens()

    response = flow.client.post("/revoke", data={"token": body["refresh_token"]})

    assert response.status_code == 401
    assert flow.refresh(body["refresh_token"]).status_code == 200
