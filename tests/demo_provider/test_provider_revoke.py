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


def test_a_client_cannot_revoke_another_clients_access_token(flow):
    body, _ = flow.tokens()

    response = flow.revoke(
        body["access_token"],
        client_id=flow.other_client_id,
        client_secret=flow.other_client_secret,
    )

    assert response.status_code == 200
    assert response.get_json() == {}
    assert flow.userinfo(body["access_token"]).status_code == 200


def test_revocation_answers_alike_for_unknown_and_other_clients_tokens(flow):
    body, _ = flow.tokens()
    other = {"client_id": flow.other_client_id, "client_secret": flow.other_client_secret}

    unknown = flow.revoke("never-issued", **other)
    foreign = flow.revoke(body["refresh_token"], **other)

    assert (unknown.status_code, unknown.get_json()) == (foreign.status_code, foreign.get_json())


def test_revocation_with_an_unknown_hint_still_revokes(flow):
    body, _ = flow.tokens()

    response = flow.revoke(body["access_token"], hint="id_token")

    assert response.status_code == 200
    assert flow.userinfo(body["access_token"]).status_code == 401


def test_revocation_without_a_token_is_invalid_request(flow):
    response = flow.client.post("/revoke", data={}, headers=flow.basic_auth())

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
