"""What a provider is, to the OAuth engine: a small value (names, credentials, endpoints or issuer,
scopes) and how to read its API into the common profile shape. Concrete providers live in
`providers/`; nothing here knows which ones exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    """The common shape every provider's profile payload is mapped to for display."""

    display_name: str
    username: str | None = None
    email: str | None = None
    # Extra label/value pairs worth showing, in order.
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Feature:
    """Something this app does with a provider's API beyond sign-in, behind a scope of its own
    that is asked for only when the person opens it (incremental authorization)."""

    name: str
    #: What the page is called, and what the person is told they are allowing, and why.
    title: str
    scope: str
    reason: str
    #: The API it reads: a discovery metadata key or a URL.
    endpoint: str


@dataclass(frozen=True)
class Provider:
    """One provider this app can send people to: its settings and how to read its API."""

    name: str
    title: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    #: OpenID Connect issuer; endpoints then come from its discovery document.
    issuer: str | None = None
    #: Endpoints for plain OAuth 2.0 providers without discovery.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    #: The API the profile page calls with the access token; a metadata key or a URL.
    profile_endpoint: str = "userinfo_endpoint"
    map_profile: Callable[[Mapping[str, Any]], Profile] = field(default=lambda p: Profile(""))
    #: For plain OAuth 2.0 providers (no ID token): who signed in, read from the API with the
    #: new access token; returns (subject, profile).
    fetch_identity: Callable[[Provider, str], tuple[str, Profile]] | None = None
    #: Signature algorithms accepted on ID tokens: pinned, never `none`, never taken from the token.
    id_token_algorithms: tuple[str, ...] = ("RS256",)
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    #: Authentication context classes to ask for (`acr_values`, space-separated; OpenID Connect
    #: only): sent with every authorization request, and the ID token's `acr` must be one of them.
    acr_values: str | None = None
    #: How this app proves itself at the token (and PAR) endpoint: `client_secret_basic`,
    #: `client_secret_post`, or `private_key_jwt` (a signed assertion; no shared secret).
    client_auth: str = "client_secret_basic"
    #: Pushed authorization requests (RFC 9126): `auto` (when discovery advertises the endpoint),
    #: `required`, or `off`.
    par: str = "auto"
    #: Sender-constrained tokens (DPoP, RFC 9449): `auto` (when discovery advertises
    #: `dpop_signing_alg_values_supported`), `required`, or `off`.
    dpop: str = "auto"
    #: `fapi2`: the FAPI 2.0 Security Profile, which sets the three above and more (see
    #: providers/settings.py).
    profile: str | None = None
    #: Refuse an authorization response without `iss` (RFC 9207), whatever discovery says.
    require_authorization_response_iss: bool = False
    #: What separates the scopes in its token responses: a space (RFC 6749 §3.3), or a comma
    #: for GitHub. Scopes are stored space-separated either way.
    granted_scope_separator: str = " "
    #: Asking for more scopes later: True when the provider takes `include_granted_scopes=true`
    #: and then covers the old scopes and the new in one grant (Google); otherwise the request
    #: names the union of what was granted and what is needed (RFC 6749 §3.3).
    include_granted_scopes: bool = False
    #: Names its token responses use for scopes asked for by another name (Google answers
    #: `email` with its `.../auth/userinfo.email` URL), mapped back to the name asked for.
    scope_aliases: Mapping[str, str] = field(default_factory=dict)
    #: The features beyond sign-in, by name.
    features: Mapping[str, Feature] = field(default_factory=dict)

    @property
    def is_oidc(self) -> bool:
        return self.issuer is not None and "openid" in self.scope.split()

    def redirect_uri(self, base_url: str) -> str:
        """The exact redirect URI to register at the provider."""
        return f"{base_url}/callback/{self.name}"

    def backchannel_logout_uri(self, base_url: str) -> str:
        """Where the provider POSTs its logout tokens (OIDC Back-Channel Logout), to register
        beside the redirect URI."""
        return f"{base_url}/backchannel-logout/{self.name}"
