"""Stand-ins for providers this machine cannot reach (github.com, accounts.google.com,
gitlab.com): their HTTP answers, shaped like the real ones, served through `responses`.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import responses
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

# One key for the whole run: generating RSA keys is slow.
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)


def sign_id_token(claims: dict[str, Any], key: RSAKey = SIGNING_KEY) -> str:
    return jwt.encode(
        {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["RS256"]
    )


class OidcHost:
    """An OpenID provider's discovery, JWKS, token and userinfo endpoints, answered locally."""

    def __init__(self, mock: responses.RequestsMock, discovery: dict[str, Any], client_id: str):
        self.mock = mock
        self.discovery = discovery
        self.client_id = client_id
        self.token_requests: list[dict[str, list[str]]] = []
        self.userinfo: dict[str, Any] = {}
        self.next_tokens: list[dict[str, Any]] = []
        issuer = discovery["issuer"]
        mock.add(responses.GET, f"{issuer}/.well-known/openid-configuration", json=discovery)
        mock.add(responses.GET, discovery["jwks_uri"], json=KeySet([SIGNING_KEY]).as_dict())
        mock.add_callback(responses.POST, discovery["token_endpoint"], callback=self._token)
        mock.add_callback(responses.GET, discovery["userinfo_endpoint"], callback=self._userinfo)
        if "revocation_endpoint" in discovery:
            mock.add(responses.POST, discovery["revocation_endpoint"], status=200)

    def id_token(self, sub: str, nonce: str | None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.discovery["issuer"],
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        if nonce is not None:
            payload["nonce"] = nonce
        return sign_id_token(payload)

    def answer_next_token_request(self, response: dict[str, Any]) -> None:
        self.next_tokens.append(response)

    def _token(self, request):
        self.token_requests.append(parse_qs(request.body))
        body = self.next_tokens.pop(0) if self.next_tokens else {"error": "invalid_grant"}
        status = 400 if "error" in body else 200
        return (
            status,
            {"Content-Type": "application/json", "Cache-Control": "no-store"},
            json.dumps(body),
        )

    def _userinfo(self, request):
        return 200, {"Content-Type": "application/json"}, json.dumps(self.userinfo)


GOOGLE_DISCOVERY = {
    "issuer": "https://accounts.google.com",
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
    "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
    "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
    "response_types_supported": ["code", "token", "id_token", "code token", "code id_token"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "scopes_supported": ["openid", "email", "profile"],
    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    "claims_supported": [
        "aud",
        "email",
        "email_verified",
        "exp",
        "family_name",
        "given_name",
        "iat",
        "iss",
        "name",
        "picture",
        "sub",
    ],
    "code_challenge_methods_supported": ["plain", "S256"],
    "grant_types_supported": [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ],
}

GITLAB_DISCOVERY = {
    "issuer": "https://gitlab.com",
    "authorization_endpoint": "https://gitlab.com/oauth/authorize",
    "token_endpoint": "https://gitlab.com/oauth/token",
    "revocation_endpoint": "https://gitlab.com/oauth/revoke",
    "introspection_endpoint": "https://gitlab.com/oauth/introspect",
    "userinfo_endpoint": "https://gitlab.com/oauth/userinfo",
    "jwks_uri": "https://gitlab.com/oauth/discovery/keys",
    "scopes_supported": ["api", "read_api", "read_user", "openid", "profile", "email"],
    "response_types_supported": ["code"],
    "response_modes_supported": ["query", "fragment", "form_post"],
    "grant_types_supported": [
        "authorization_code",
        "password",
        "client_credentials",
        "device_code",
        "refresh_token",
    ],
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "claim_types_supported": ["normal"],
    "claims_supported": [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "sub_legacy",
        "name",
        "nickname",
        "preferred_username",
        "email",
        "email_verified",
        "website",
        "profile",
        "picture",
        "groups",
        "groups_direct",
    ],
    "code_challenge_methods_supported": ["plain", "S256"],
}
