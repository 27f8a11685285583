"""Secrets handled by the demo provider never reach its logs."""

import logging


def test_codes_tokens_and_secrets_never_reach_the_logs(flow, caplog):
    caplog.set_level(logging.DEBUG)
    code, verifier, _ = flow.obtain_code()
    body = flow.redeem(code, verifier).get_json()
    rotated = flow.refresh(body["refresh_token"]).get_json()
    flow.userinfo(rotated["access_token"])
    flow.revoke(rotated["refresh_token"])

    secrets = [
        code,
        verifier,
        flow.client_secret,
        "wonderland",
        body["access_token"],
        body["refresh_token"],
        body["id_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ]
    assert not [secret for secret in secrets if secret in caplog.text]
