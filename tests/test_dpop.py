"""DPoP (RFC 9449) end to end against the fake provider: the sign-in binds the code (`dpop_jkt`)
and the tokens to a key of the link's own; token requests, refreshes and API calls carry proofs;
nonces are learned and retried once; and each failure (no support when required, bearer tokens
when DPoP was required, a nonce loop, a refused proof, a key nobody can read) ends in a clear
answer with nothing lost.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from cryptography.fernet import Fernet
from joserfc import jwk
from sqlalchemy import select, update

from accounts import tokens
from extensions import db
from models import LinkedAccount, LinkStatus, LoginAttempt, User
from tests.forms import csrf_token
from tests.live_provider import query
from tests.misbehaving import MisbehavingProvider, assert_refused, count, stored_link


@pytest.fixture
def advertised(provider):
    """The provider's discovery document says it takes DPoP proofs."""
    MisbehavingProvider(provider).discovery(
        lambda document: {**document, "dpop_signing_alg_values_supported": ["ES256", "PS256"]}
    )
    yield provider
    provider.fake.dpop_nonce = None


def profile(client) -> str:
    return client.get("/profile").get_data(as_text=True)


def test_auto_binds_the_code_and_tokens_to_a_key_of_the_links_own(flow, client, app, advertised):
    authorization_url = flow.start()
    assert "dpop_jkt" in query(authorization_url)

    assert client.get(flow.authorize(authorization_url)).headers["Location"] == "/profile"

    (token_request,) = advertised.recorder.token_requests("authorization_code")
    assert token_request.dpop is not None
    assert stored_link(app).dpop_key_ciphertext is not None
    # The profile API answered a DPoP-bound call: the live data is on the page.
    assert "Alice Liddell" in profile(client)
    (api_call,) = advertised.recorder.calls("/api/profile")
    assert api_call.authorization.startswith("DPoP ")
    assert api_call.dpop is not None


def test_a_refresh_proves_the_same_key(flow, client, app, advertised):
    flow.sign_in("alice")
    page = profile(client)
    answer = client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
    assert answer.status_code == 303
    assert "access token was refreshed" in profile(client)
    (refresh,) = advertised.recorder.token_requests("refresh_token")
    assert refresh.dpop is not None


def test_a_bound_token_copied_without_its_key_is_refused(flow, client, app, advertised):
    flow.sign_in("alice")
    profile(client)
    (api_call,) = advertised.recorder.calls("/api/profile")
    stolen = api_call.authorization.removeprefix("DPoP ")
    replayed = requests.get(
        advertised.issuer + "/api/profile",
        headers={"Authorization": f"Bearer {stolen}"},
        timeout=5,
    )
    assert replayed.status_code == 401


def test_auto_without_support_uses_bearer_tokens(flow, client, app, provider):
    authorization_url = flow.start()
    assert "dpop_jkt" not in query(authorization_url)
    client.get(flow.authorize(authorization_url))
    assert stored_link(app).dpop_key_ciphertext is None
    assert provider.recorder.token_requests("authorization_code")[0].dpop is None


class TestRequired:
    @pytest.fixture
    def app_overrides(self):
        return {"DEMO_DPOP": "required"}

    def test_required_without_support_says_so_and_stores_nothing(self, client, app):
        page = client.get("/login").get_data(as_text=True)
        answer = client.post("/login/demo", data={"csrf_token": csrf_token(page)})
        assert "does not offer DPoP-bound tokens" in answer.get_data(as_text=True)
        assert count(app, LoginAttempt) == 0

    def test_bearer_tokens_when_dpop_was_required_are_refused(self, flow, client, app, advertised):
        MisbehavingProvider(advertised).token_response(
            lambda token: {**token, "token_type": "Bearer"}
        )
        answer = client.get(flow.authorize(flow.start()))
        assert_refused(answer, answer.status_code, "dpop_not_bound")
        assert count(app, User) == 0


def test_a_nonce_is_learned_and_the_request_retried_once(flow, client, app, advertised):
    advertised.fake.dpop_nonce = "nonce-one"
    assert flow.sign_in("alice").headers["Location"] == "/profile"
    # The first token request had no nonce and was told to use one; the retry carried it.
    assert len(advertised.recorder.token_requests("authorization_code")) == 2
    assert "Alice Liddell" in profile(client)


def test_a_provider_that_keeps_asking_for_a_nonce_is_not_looped_on(flow, client, app, advertised):
    advertised.recorder.fail(
        "/token", 400, {"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": "again"}, times=5
    )
    answer = client.get(flow.authorize(flow.start()))
    assert answer.status_code >= 400
    assert len(advertised.recorder.token_requests("authorization_code")) == 2
    assert count(app, User) == 0


def test_a_refused_proof_at_the_api_keeps_the_tokens(flow, client, app, advertised):
    flow.sign_in("alice")
    before = stored_link(app)
    advertised.recorder.fail(
        "/api/profile",
        401,
        {"error": "invalid_dpop_proof"},
        headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"'},
    )
    page = profile(client)
    assert "refused this app&#39;s proof of its key" in page
    after = stored_link(app)
    assert after.status == LinkStatus.CONNECTED
    assert after.refresh_token_ciphertext == before.refresh_token_ciphertext
    assert advertised.recorder.token_requests("refresh_token") == []


def test_a_key_no_configured_encryption_key_can_read_means_reconnect(flow, client, app, advertised):
    flow.sign_in("alice")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"kty": "EC"}')
    with app.app_context():
        db.session.execute(update(LinkedAccount).values(dpop_key_ciphertext=foreign))
        db.session.commit()
    assert "needs you to reconnect" in profile(client)
    assert stored_link(app).status == LinkStatus.RECONNECT_NEEDED


def proof_header(proof: str) -> dict:
    """A DPoP proof's header, read without checking anything (the provider checked the proof)."""
    return json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))


def proved_key(proof: str) -> str:
    """The thumbprint of the key a DPoP proof carries in its header."""
    return jwk.import_key(proof_header(proof)["jwk"]).thumbprint()


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize(
    ("listed", "signed_as"),
    [
        (["Ed25519"], "Ed25519"),
        (["EdDSA"], "EdDSA"),
        (["PS256", "EdDSA", "Ed25519"], "Ed25519"),
    ],
)
def test_an_ed25519_key_proves_under_the_name_the_provider_lists(
    flow, client, app, provider, listed, signed_as
):
    """RFC 9864 renames EdDSA with an Ed25519 key to `Ed25519`: a provider that lists only one
    of the names gets proofs under that one, and RFC 9864's is preferred where both are listed."""
    MisbehavingProvider(provider).discovery(
        lambda document: {**document, "dpop_signing_alg_values_supported": listed}
    )
    assert flow.sign_in("alice").headers["Location"] == "/profile"
    assert "Alice Liddell" in profile(client)
    (token_request,) = provider.recorder.token_requests("authorization_code")
    (api_call,) = provider.recorder.calls("/api/profile")
    assert proof_header(token_request.dpop)["alg"] == signed_as
    assert proof_header(api_call.dpop)["alg"] == signed_as
    assert proof_header(api_call.dpop)["jwk"]["crv"] == "Ed25519"


def test_every_call_proves_the_key_the_link_is_bound_to_now(flow, client, app, advertised):
    # The key is read once and kept, by its ciphertext: a new binding must not be shadowed.
    flow.sign_in("alice")
    profile(client)
    profile(client)
    with app.app_context():
        first = tokens.proof_key(db.session.scalars(select(LinkedAccount)).one()).thumbprint()
    flow.sign_in("alice")  # a new sign-in binds the new tokens to a new key
    profile(client)
    with app.app_context():
        second = tokens.proof_key(db.session.scalars(select(LinkedAccount)).one()).thumbprint()
    assert first != second
    proved = [proved_key(call.dpop) for call in advertised.recorder.calls("/api/profile")]
    assert proved[:2] == [first, first]
    assert proved[-1] == second
