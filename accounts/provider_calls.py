"""Calling a provider's API for a link: a fresh access token (refreshed first when it is about to
lapse), the DPoP key it is bound to, and one forced refresh when the API answers 401 for a token
that had not expired (revoked early, or the clocks disagree). A second 401 means the grant is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import oauth
from accounts import tokens
from models import LinkedAccount

Answer = TypeVar("Answer")


def call(link: LinkedAccount, request: Callable[[str, Any], Answer]) -> Answer:
    """`request(access_token, dpop_key)`, retried once with a refreshed token after a 401."""
    access_token = tokens.fresh_access_token(link)
    key = tokens.proof_key(link)  # DPoP-bound tokens are sent with a proof of this key
    try:
        return request(access_token, key)
    except oauth.AccessTokenRejected:
        access_token = tokens.fresh_access_token(
            link,
            force_refresh=True,
            reason="The API answered 401 for a token that had not expired.",
        )
        try:
            return request(access_token, key)
        except oauth.AccessTokenRejected:
            tokens.mark_reconnect_needed(link)
            raise tokens.ReconnectNeeded(link.provider, "api_token_rejected") from None
