"""The authorization code flow, seen from the client: build the authorization request, then
check the response and turn the code into tokens and a verified identity.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from flask import current_app

from oauth import api, dpop, http, idtoken, metadata, par, sender_constraint, signals
from oauth.errors import (
    ProviderUnavailable,
    SignInCancelled,
    SignInRejected,
)
from oauth.provider import Provider

MAX_CODE_LENGTH = 2048


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and the secrets this sign-in must remember until it returns."""

    url: str = field(repr=False)
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    #: The DPoP proof key this sign-in's tokens are to be bound to (None without DPoP).
    dpop_key: Any = field(default=None, repr=False)
    #: The scopes asked for, space-separated: what the grant is "as requested" (RFC 6749 §3.3).
    scope: str = ""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: `(provider, subject)` is the key, never the e-mail."""

    provider: str
    subject: str
    issuer: str | None
    display_name: str
    email: str | None
    #: Whether the provider vouches that the person controls `email`.
    email_verified: bool = False
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SignInResult:
    identity: Identity
    token: dict[str, Any] = field(repr=False)
    #: The key the tokens are DPoP-bound to; None for bearer tokens.
    dpop_key: Any = field(default=None, repr=False)
    #: The scopes the authorization request asked for (None when not known).
    requested_scope: str | None = None


def redirect_uri(provider: Provider) -> str:
    """This app's callback for the provider, from configuration (never from the Host header)."""
    return provider.redirect_uri(current_app.config["BASE_URL"])


def authorization_request(
    provider: Provider,
    *,
    reauthenticate: bool = False,
    scope: str | None = None,
    acr_values: str | None = None,
) -> AuthorizationRequest:
    """A fresh authorization request: new state, nonce and PKCE verifier every time.

    `reauthenticate` asks the provider to have the person prove who they are again, now
    (`max_age=0` and `prompt=login`, OIDC Core §3.1.2.1), before an irreversible action or when
    an API asks for a fresher sign-in (then with the `acr_values` it named, RFC 9470).
    `scope` replaces the provider's sign-in scope when a feature needs more (incremental
    authorization), or to keep what the link has when the person signs in again.
    """
    endpoints = metadata.server_metadata(provider)
    # state: ties the response to this browser (CSRF); nonce: ties the ID token to this
    # request (token injection); the PKCE verifier: ties the code to this client instance
    # (code interception). 256 bits each from the OS's CSPRNG.
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(48)
    extra = dict(provider.extra_authorize_params)
    if provider.is_oidc:
        extra["nonce"] = nonce
        if acr_values or provider.acr_values:
            extra["acr_values"] = acr_values or provider.acr_values
        if reauthenticate:
            # max_age=0 obliges the provider to return auth_time, which the callback checks;
            # prompt=login is for providers that honour only that.
            extra.update(max_age="0", prompt="login")
    if provider.include_granted_scopes:
        # Every request, as Google advises: the new grant then covers what the person allowed
        # before too, so signing in again never quietly narrows it.
        extra["include_granted_scopes"] = "true"
    dpop_algorithm = sender_constraint.algorithm(provider)
    dpop_key = dpop.new_key(dpop_algorithm) if dpop_algorithm else None
    if dpop_key is not None:
        # RFC 9449 §10: the code is bound to this key, so a stolen code is useless elsewhere.
        extra["dpop_jkt"] = dpop.thumbprint(dpop_key)
    client = http.oauth_session(
        provider, redirect_uri=redirect_uri(provider), scope=scope or provider.scope
    )
    url, _ = client.create_authorization_url(
        endpoints["authorization_endpoint"], state=state, code_verifier=code_verifier, **extra
    )
    par_endpoint = par.endpoint(provider)
    if par_endpoint is not None:
        # The same parameters, pushed server to server; the browser carries only a handle.
        parameters = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        request_uri = par.push(provider, client, par_endpoint, parameters)
        url = par.authorization_url(
            endpoints["authorization_endpoint"], provider.client_id, request_uri
        )
    return AuthorizationRequest(
        url=url,
        state=state,
        nonce=nonce,
        code_verifier=code_verifier,
        dpop_key=dpop_key,
        scope=scope or provider.scope,
    )


def check_issuer(provider: Provider, args: Mapping[str, str]) -> None:
    """RFC 9207: the response must come from the issuer the request went to (mix-up defence).

    Checked when `iss` is present, and required when the provider advertises that it sends it.
    """
    received = args.get("iss")
    if received is not None:
        if received != provider.issuer:
            raise SignInRejected(
                "iss_mismatch", "The response did not come from the provider it was sent to."
            )
        return
    if (
        provider.require_authorization_response_iss
        or metadata.server_metadata(provider).get("authorization_response_iss_parameter_supported")
        is True
    ):
        raise SignInRejected("iss_missing", "The response did not say which provider sent it.")


def finish(
    provider: Provider,
    args: Mapping[str, str],
    *,
    nonce: str,
    code_verifier: str,
    dpop_key: Any = None,
    requested_scope: str | None = None,
) -> SignInResult:
    """Check the authorization response, redeem the code and verify who signed in.
    `requested_scope` is what the request asked for, carried into the result."""
    check_issuer(provider, args)
    error = args.get("error")
    if error is not None:
        if error == "access_denied":
            raise SignInCancelled("access_denied", f"You cancelled sign-in with {provider.title}.")
        # The provider's error_description is not shown: it is attacker-influenced text.
        raise SignInRejected(
            f"provider_error_{api.safe_code(error)}", f"{provider.title} could not sign you in."
        )
    code = args.get("code")
    if not code or len(code) > MAX_CODE_LENGTH:
        raise SignInRejected("code_missing", "The response carried no usable authorization code.")

    token = _redeem(provider, code, code_verifier, dpop_key)
    if signals.token_response_received.heard():
        signals.token_response_received.announce(
            provider=provider, grant_type="authorization_code", token=MappingProxyType(token)
        )
    api.check_token_response(provider, token, dpop_key)
    dpop_key = sender_constraint.check_token_type(provider, dpop_key, token)
    if provider.is_oidc:
        identity = _oidc_identity(provider, token, nonce, dpop_key)
    elif provider.fetch_identity is not None:
        subject, profile = provider.fetch_identity(provider, token["access_token"])
        identity = Identity(
            provider=provider.name,
            subject=subject,
            issuer=None,
            display_name=profile.display_name[:200],
            email=profile.email,
            email_verified=profile.email is not None,
        )
    else:
        raise SignInRejected("provider_kind_unsupported", f"{provider.title} is not supported.")
    return SignInResult(
        identity=identity, token=token, dpop_key=dpop_key, requested_scope=requested_scope
    )


def _redeem(provider: Provider, code: str, code_verifier: str, dpop_key: Any) -> dict[str, Any]:
    callback = redirect_uri(provider)
    client = http.oauth_session(provider, redirect_uri=callback)
    sender_constraint.attach(provider, client)
    token_endpoint = api.endpoint(provider, "token_endpoint")
    if signals.token_request_sent.heard():
        signals.token_request_sent.announce(
            provider=provider,
            endpoint=token_endpoint,
            grant_type="authorization_code",
            parameters=(
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", callback),
                ("code_verifier", code_verifier),
            ),
            client_authentication=client.token_endpoint_auth_method,
        )
    try:
        return dict(
            sender_constraint.token_request(
                lambda headers: client.fetch_token(
                    token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    headers=headers,
                ),
                provider,
                dpop_key,
                token_endpoint,
            )
        )
    except OAuthError as error:
        raise SignInRejected(
            f"token_{api.safe_code(error.error)}", f"{provider.title} refused the sign-in."
        ) from error
    except requests.RequestException as error:
        raise ProviderUnavailable(
            "token_unavailable", f"{provider.title} could not be reached."
        ) from error
    except ValueError as error:
        raise SignInRejected(
            "token_response_malformed", f"{provider.title} sent malformed data."
        ) from error


def _oidc_identity(
    provider: Provider, token: Mapping[str, Any], nonce: str, dpop_key: Any
) -> Identity:
    if not token.get("id_token"):
        # We asked for `openid`: a response without an ID token cannot prove who signed in.
        raise SignInRejected("id_token_missing", f"{provider.title} did not say who signed in.")
    claims = idtoken.validate(
        provider, token["id_token"], nonce=nonce, access_token=token["access_token"]
    )
    if provider.acr_values and claims.get("acr") not in provider.acr_values.split():
        # We asked for these authentication levels; a provider may answer with a weaker one
        # (acr_values is a request, not a guarantee), so the answer is checked here.
        raise SignInRejected(
            "acr_not_satisfied",
            f"{provider.title} did not confirm the sign-in method this site requires.",
        )
    userinfo: Mapping[str, Any] = {}
    if "userinfo_endpoint" in metadata.server_metadata(provider):
        userinfo = api.get_json(
            provider, api.endpoint(provider, "userinfo_endpoint"), token["access_token"], dpop_key
        )
        # Core §5.3.2: userinfo may be from someone else (token substitution) unless its
        # sub equals the ID token's.
        if not isinstance(userinfo, Mapping) or userinfo.get("sub") != claims["sub"]:
            raise SignInRejected("userinfo_sub_mismatch", "The provider's answers did not agree.")
    merged = {**claims, **userinfo}
    profile = (
        provider.map_profile(merged) if provider.profile_endpoint == "userinfo_endpoint" else None
    )
    display_name = (profile.display_name if profile else None) or str(
        merged.get("name")
        or merged.get("preferred_username")
        or merged.get("email")
        or claims["sub"]
    )
    return Identity(
        provider=provider.name,
        subject=claims["sub"],
        issuer=claims["iss"],
        display_name=display_name[:200],
        email=merged.get("email") if isinstance(merged.get("email"), str) else None,
        email_verified=merged.get("email_verified") is True,
        # The ID token's own claims win: userinfo is not signed, and `sid`, `auth_time` and
        # `acr` must come from the token that was verified.
        claims={**merged, **claims},
    )
