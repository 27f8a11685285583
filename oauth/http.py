"""Connections to providers: one pooled HTTP adapter per provider, reused by every request and
every thread, with connect and read timeouts on every call.
"""

from __future__ import annotations

import threading
from base64 import b64encode
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import requests
from authlib.common.urls import add_params_to_qs
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from oauth import client_assertion, client_keys, signals
from oauth.errors import ProviderError, ProviderUnavailable
from oauth.provider import Provider

USER_AGENT = "flask-signin-reference/0.1"


class _NoCookies(DefaultCookiePolicy):
    """Refuse provider cookies: a call made for one user must not carry state into another's."""

    def set_ok(self, cookie, request) -> bool:
        return False


class Connections:
    """The pooled connections of one app, an adapter per provider, created on first use (never
    at start-up)."""

    def __init__(self) -> None:
        self._adapters: dict[str, HTTPAdapter] = {}
        self._lock = threading.Lock()

    def adapter(self, provider: Provider) -> HTTPAdapter:
        """The provider's pooled adapter: it carries the plain GETs (discovery, JWKS, API) and
        every Authlib exchange (`oauth_session`)."""
        adapter = self._adapters.get(provider.name)
        if adapter is None:
            with self._lock:
                adapter = self._adapters.get(provider.name)
                if adapter is None:
                    adapter = self._adapters[provider.name] = _new_adapter()
        return adapter


# Retried: connection failures (nothing reached the provider), and GETs that met a gateway error.
# Never a POST that got an answer: a token request may have spent a single-use refresh token.
# Bounded, with a short backoff, and without waiting out a Retry-After a provider may ask for.
RETRIES = Retry(
    total=2,
    connect=2,
    read=0,
    status=2,
    other=0,
    backoff_factor=0.1,
    status_forcelist=(502, 503, 504),
    allowed_methods=frozenset({"GET"}),
    respect_retry_after_header=False,
    raise_on_status=False,
)


def _new_adapter() -> HTTPAdapter:
    pool_size = current_app.config["HTTP_POOL_SIZE"]
    return HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=RETRIES)


def _harden(session: requests.Session) -> None:
    """What every session to a provider gets: no cookies, our User-Agent, nothing from the
    environment."""
    session.cookies.set_policy(_NoCookies())
    session.headers["User-Agent"] = USER_AGENT
    # Proxies and .netrc from the environment must not silently receive client secrets.
    session.trust_env = False


def timeout() -> tuple[float, float]:
    """(connect, read) timeout in seconds for every outbound call."""
    config = current_app.config
    return (config["HTTP_CONNECT_TIMEOUT"], config["HTTP_READ_TIMEOUT"])


def adapter(provider: Provider) -> HTTPAdapter:
    """The pooled adapter for this provider."""
    return current_app.extensions["provider_connections"].adapter(provider)


def get(
    provider: Provider,
    url: str,
    *,
    what: str,
    access_token: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> requests.Response:
    """GET `url` from the provider over its pooled connections, with the timeouts; with a user's
    access token in the Authorization header only, never in the URL, where logs and referrers
    would keep it (or `extra_headers`, a DPoP-bound token's). ProviderUnavailable
    (`<what>_unreachable`) when no answer comes."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    headers.update(extra_headers or {})
    # Straight to the provider's pooled adapter (its retries, its connections), without what a
    # requests Session would add to each call: merging its settings, cookies (refused anyway)
    # and hooks, and following redirects, about a fifth of the call's CPU. Redirects are not
    # followed on purpose: a document or an API answers where it was asked, a redirect would
    # carry the token along, and a DPoP proof names the URL it was made for.
    try:
        response = adapter(provider).send(_prepared_get(url, headers), timeout=timeout())
        # Read the body now, as a Session does: the connection goes back to the pool at once,
        # even when the caller looks no further than the status.
        response.content  # noqa: B018
    except requests.RequestException as error:
        raise ProviderUnavailable(
            f"{what}_unreachable", f"{provider.title} could not be reached."
        ) from error
    return response


def _prepared_get(url: str, headers: dict[str, str]) -> requests.PreparedRequest:
    """A GET request, checked as requests checks one: the URL parsed and quoted, the headers
    validated. `Request.prepare()` would also build a cookie jar and look for credentials in the
    URL, which costs more than the rest, for nothing a provider's GET carries."""
    request = requests.PreparedRequest()
    request.prepare_method("GET")
    request.prepare_url(url, None)
    request.prepare_headers(headers)
    return request


def json_of(
    provider: Provider,
    response: requests.Response,
    *,
    what: str,
    max_bytes: int,
    malformed: type[ProviderError] = ProviderUnavailable,
) -> Any:
    """The JSON a provider answered with: refused when the answer is not a 200, larger than
    `max_bytes` (a provider's document is small; a huge one is an attack on memory) or not JSON.
    Reason codes start with `what`; bad content raises `malformed`."""
    if response.status_code != 200:
        raise ProviderUnavailable(
            f"{what}_http_{response.status_code}", f"{provider.title} is not answering properly."
        )
    if len(response.content) > max_bytes:
        raise malformed(f"{what}_too_large", f"{provider.title} sent too much data.")
    try:
        return response.json()
    except ValueError as error:
        raise malformed(f"{what}_not_json", f"{provider.title} sent malformed data.") from error


def _client_secret_basic(client, method, uri, headers, body):
    """HTTP Basic client authentication as RFC 6749 §2.3.1 spells it: the id and secret are
    form-urlencoded first, so a secret containing `:` or `%` reaches the provider intact."""
    user = quote(client.client_id, safe="")
    password = quote(client.client_secret or "", safe="")
    headers["Authorization"] = "Basic " + b64encode(f"{user}:{password}".encode()).decode()
    return uri, headers, body


def _private_key_jwt(provider: Provider):
    """private_key_jwt (RFC 7523 §2.2, OIDC Core §9): a short-lived assertion signed with this
    app's key instead of a shared secret. Its `aud` is the issuer identifier, as FAPI 2.0
    §5.3.2.1 asks (an endpoint URL as audience lets an assertion be replayed at a look-alike)."""

    def sign(client, method, uri, headers, body):
        claims = client_assertion.assertion_claims(
            client_id=client.client_id, audience=provider.issuer or uri
        )
        assertion = client_assertion.sign(
            client_keys.signing_key(current_app.extensions["client_signing_keys"]), claims
        )
        # The claims only: never the signed assertion, which is a credential while it lives.
        signals.client_assertion_made.announce(provider=provider, endpoint=uri, claims=claims)
        body = add_params_to_qs(
            body or "",
            [
                ("client_assertion_type", client_assertion.ASSERTION_TYPE),
                ("client_assertion", assertion),
            ],
        )
        return uri, headers, body

    return sign


def oauth_session(provider: Provider, **kwargs) -> OAuth2Session:
    """An Authlib OAuth 2.0 session for one exchange, riding on the provider's shared pool.

    A new object per call because Authlib keeps the last token on it; the connections underneath
    are the pooled ones, so never call `close()` on it (that would close the shared pool).
    """
    client = OAuth2Session(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method=provider.client_auth,
        revocation_endpoint_auth_method=provider.client_auth,
        code_challenge_method="S256",
        default_timeout=timeout(),
        **kwargs,
    )
    client.register_client_auth_method(("client_secret_basic", _client_secret_basic))
    client.register_client_auth_method(("private_key_jwt", _private_key_jwt(provider)))
    shared = adapter(provider)
    for prefix in ("https://", "http://"):
        client.mount(prefix, shared)
    _harden(client)
    return client
