"""What the engine announces as it works: the token requests it sends and their answers, the ID
tokens it verifies, the API calls it makes. Plug-ins listen (the flow inspector draws them); the
engine neither knows who listens nor builds a payload when nobody does.

Each signal is sent with the current app as sender, so a receiver connects per app
(`signal.connect(receiver, sender=app)`) and hears only the app it was added to. Payloads are
facts as they travelled, secrets included: a receiver runs in this process like any caller, and
one that keeps or shows anything redacts it first.
"""

from __future__ import annotations

from typing import Any, cast

import blinker
from flask import current_app


class Signal(blinker.NamedSignal):
    """A signal sent on behalf of the app in context."""

    def heard(self) -> bool:
        """Whether a receiver listens to this signal for the current app: when none does, the
        caller skips building the payload, so an app without listeners pays nothing."""
        return self.has_receivers_for(current_app._get_current_object())

    def announce(self, **facts: Any) -> None:
        """Send the signal for the current app, when anyone listens."""
        app = current_app._get_current_object()
        if self.has_receivers_for(app):
            self.send(app, **facts)


class Namespace(blinker.Namespace):
    """Signals by name, each an app-scoped `Signal`."""

    def signal(self, name: str, doc: str | None = None) -> Signal:
        if name not in self:
            self[name] = Signal(name, doc)
        return cast(Signal, self[name])


namespace = Namespace()

pushed_authorization_request_sent = namespace.signal(
    "pushed-authorization-request-sent",
    doc="""The authorization request is being POSTed to the provider's PAR endpoint (RFC 9126).

    provider: the Provider; endpoint: its URL; parameters: (name, value) pairs, secrets included.
    """,
)

pushed_authorization_request_answered = namespace.signal(
    "pushed-authorization-request-answered",
    doc="""The PAR endpoint accepted the request: the browser goes on with `request_uri` only.

    provider: the Provider; request_uri: the handle; expires_in: its lifetime (as sent).
    """,
)

client_assertion_made = namespace.signal(
    "client-assertion-made",
    doc="""This app signed a client assertion (private_key_jwt) for a request to the provider.

    provider: the Provider; endpoint: where it goes; claims: its claims (iss, sub, aud, jti, exp).
    """,
)

dpop_proof_made = namespace.signal(
    "dpop-proof-made",
    doc="""This app signed a DPoP proof (RFC 9449) for one request.

    provider: the Provider; method and url: what the proof is for (htm, htu);
    key_thumbprint: the JWK thumbprint of its key (what tokens are bound to); nonce: whether it
    carries the provider's nonce; access_token_hash: whether it carries `ath`.
    """,
)

token_request_sent = namespace.signal(
    "token-request-sent",
    doc="""A request to the token endpoint is about to go out.

    provider: the Provider; endpoint: the token endpoint's URL; grant_type: "authorization_code"
    or "refresh_token"; parameters: the form's (name, value) pairs, secrets included;
    client_authentication: how the client authenticates (e.g. "client_secret_basic").
    """,
)

token_response_received = namespace.signal(
    "token-response-received",
    doc="""The token endpoint answered with tokens (before they are checked).

    provider: the Provider; grant_type: as sent; token: the response (a read-only mapping).
    """,
)

id_token_verified = namespace.signal(
    "id-token-verified",
    doc="""An ID token passed every check (signature, iss, aud, azp, exp, iat, nonce, at_hash).

    provider: the Provider; header: its JOSE header; claims: its verified claims;
    nonce_checked: True at sign-in, where the nonce of the authorization request was compared;
    same_subject_checked: True after a refresh, where iss and sub had to equal the first token's.
    """,
)

logout_token_verified = namespace.signal(
    "logout-token-verified",
    doc="""A back-channel logout token passed every check (signature, typ, iss, aud, iat, exp, jti,
    events, sub or sid, no nonce); whether it was already used is checked next, in the database.

    provider: the Provider; header: its JOSE header; claims: its verified claims.
    """,
)

api_request_sent = namespace.signal(
    "api-request-sent",
    doc="""A call to the provider's API (or userinfo) with a user's access token is going out.

    provider: the Provider; method: "GET"; url: the resource; access_token: the bearer token.
    """,
)

api_response_received = namespace.signal(
    "api-response-received",
    doc="""The provider's API answered (any status).

    provider: the Provider; url: the resource; status_code: the HTTP status; reason: its phrase.
    """,
)
