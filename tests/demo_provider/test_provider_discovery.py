"""The demo provider's discovery document and JWKS."""

PRIVATE_RSA_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_discovery_document_builds_every_url_from_the_issuer(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    issuer = flow.issuer
    assert metadata["issuer"] == issuer
    assert metadata["authorization_endpoint"] == f"{issuer}/authorize"
    assert metadata["token_endpoint"] == f"{issuer}/token"
    assert metadata["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert metadata["jwks_uri"] == f"{issuer}/jwks.json"
    assert metadata["revocation_endpoint"] == f"{issuer}/revoke"
    assert metadata["profile_endpoint"] == f"{issuer}/api/profile"
    assert metadata["contacts_endpoint"] == f"{issuer}/api/contacts"


def test_discovery_document_advertises_the_end_session_endpoint(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["end_session_endpoint"] == f"{flow.issuer}/end-session"


def test_discovery_document_ignores_the_host_header(flow):
    response = flow.client.get(
        "/.well-known/openid-configuration", headers={"Host": "evil.example"}
    )

    assert response.get_json()["issuer"] == flow.issuer
    assert "evil.example" not in response.get_data(as_text=True)


def test_discovery_document_advertises_only_what_is_enforced(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["scopes_supported"] == [
        "openid",
        "profile",
        "email",
        "offline_access",
        "contacts.read",
    ]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    # `none` is for public clients only (see test_provider_client_registration.py).
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    assert metadata["revocation_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["subject_types_supported"] == ["public"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"sub", "name", "email", "email_verified"} <= set(metadata["claims_supported"])


def test_jwks_publishes_only_the_public_half_of_the_signing_key(flow):
    jwks = flow.client.get("/jwks.json").get_json()

    [key] = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["use"] == "sig"
    assert key["alg"] == "RS256"
    assert key["kid"]
    assert {"n", "e"} <= set(key)
    assert not PRIVATE_RSA_MEMBERS & set(key)


def test_discovery_never_offers_unsigned_or_symmetric_id_tokens(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    algorithms = metadata["id_token_signing_alg_values_supported"]
    assert "none" not in algorithms
    assert not [alg for alg in algorithms if alg.startswith("HS")]


def test_discovery_offers_no_implicit_hybrid_or_request_objects(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    assert metadata["response_types_supported"] == ["code"]
    assert metadata["response_modes_supported"] == ["query"]
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False
    assert "implicit" not in metadata["grant_types_supported"]


def test_every_advertised_endpoint_lives_under_the_issuer(flow):
    metadata = flow.client.get("/.well-known/openid-configuration").get_json()

    urls = {key: value for key, value in metadata.items() if key.endswith(("_endpoint", "_uri"))}
    assert len(urls) >= 6
    for key, url in urls.items():
        assert url.startswith(flow.issuer + "/"), key
        path = url.removeprefix(flow.issuer)
        assert flow.client.open(path, method="OPTIONS").status_code != 404, key


def test_https_issuer_advertises_only_https_endpoints(demo_config, tmp_path):
    from demo_provider import create_app

    demo_config["DEMO_PROVIDER_ISSUER"] = "https://id.example"
    app = create_app(demo_config, instance_path=str(tmp_path / "https"))

    metadata = (
        app.test_client()
        .get("/.well-known/openid-configuration", base_url="https://id.example")
        .get_json()
    )

    urls = [value for key, value in metadata.items() if key.endswith(("_endpoint", "_uri"))]
    assert urls
    assert all(url.startswith("https://id.example/") for url in urls)


def test_jwks_key_ids_are_unique_and_every_key_is_for_signatures(flow):
    keys = flow.client.get("/jwks.json").get_json()["keys"]

    kids = [key["kid"] for key in keys]
    assert len(set(kids)) == len(kids)
    assert all(key["use"] == "sig" and key["alg"] == "RS256" for key in keys)
