"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): checks an end-session request
and decides which client it is from, whether the person must confirm, and where, if anywhere,
they may be sent afterwards. The views in `views.py` act on the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.common.urls import add_params_to_uri
from werkzeug.datastructures import MultiDict

from demo_provider import signing
from demo_provider.extensions import db
from demo_provider.models import Client, User

# The parameters acted on. `ui_locales` is accepted and ignored: the pages have one language.
PARAMETERS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")


@dataclass(frozen=True)
class LogoutRequest:
    """A checked end-session request."""

    # The client the request is from: named by a trusted id_token_hint or by client_id.
    client: Client | None = None
    # The `sub` of a trusted id_token_hint: the person the client wants signed out.
    hint_subject: str | None = None
    # The validated post_logout_redirect_uri with `state` added; None means no redirect.
    return_to: str | None = None
    # Why the request is not fully honoured, shown to developers (never a token or a URI).
    problem: str | None = None
    # The parameters as received, to carry through the confirmation form.
    fields: tuple[tuple[str, str], ...] = ()

    def signs_out_without_asking(self, user: User | None) -> bool:
        """Whether to skip the confirmation: the OP must ask unless a trusted id_token_hint names
        the person signed in here (section 2); with nobody signed in there is nothing to protect.
        Without this, any site could sign people out of the provider with a link (logout CSRF).
        """
        if self.hint_subject is None:
            return False
        return user is None or user.sub == self.hint_subject


def check(params: MultiDict[str, str], issuer: str) -> LogoutRequest:
    """Check the request's parameters against the registered clients and this issuer."""
    values: dict[str, str] = {}
    for name in PARAMETERS:
        given = [value for value in params.getlist(name) if value]
        if len(given) > 1:
            # Which copy would count is ambiguous, so none does.
            return LogoutRequest(problem=f"{name} was sent more than once.")
        if given:
            values[name] = given[0]
    fields = tuple(values.items())

    client, hint_subject, problem = _identify_client(values, issuer)
    return_to = None
    uri = values.get("post_logout_redirect_uri")
    if uri is not None and problem is None:
        # Redirecting anywhere not registered for a client identified by the request would make
        # the provider an open redirector, lending its name to phishing links (section 3).
        if client is None:
            problem = "post_logout_redirect_uri needs an id_token_hint or client_id to match."
        elif not client.check_post_logout_redirect_uri(uri):
            problem = "post_logout_redirect_uri is not registered for this client (exact match)."
        else:
            state = values.get("state")
            return_to = add_params_to_uri(uri, [("state", state)]) if state else uri
    return LogoutRequest(
        client=client,
        hint_subject=hint_subject,
        return_to=return_to,
        problem=problem,
        fields=fields,
    )


def _identify_client(
    values: Mapping[str, str], issuer: str
) -> tuple[Client | None, str | None, str | None]:
    """The client, the hint's subject and a problem, from id_token_hint and client_id."""
    hint = values.get("id_token_hint")
    client_id = values.get("client_id")
    if hint is not None:
        claims = _trusted_hint_claims(hint, issuer)
        client = db.session.get(Client, claims["aud"]) if claims else None
        if claims is None or client is None:
            return None, None, "id_token_hint is not an ID token this provider issued."
        # Both present: they must agree, or the request names two clients (section 2).
        if client_id is not None and client_id != client.client_id:
            return None, None, "client_id is not the audience of the id_token_hint."
        return client, claims["sub"], None
    if client_id is not None:
        client = db.session.get(Client, client_id)
        if client is None:
            return None, None, "client_id is not a registered client."
        return client, None, None
    return None, None, None


def _trusted_hint_claims(hint: str, issuer: str) -> dict[str, Any] | None:
    """The hint's claims if it is an ID token from this issuer, signed with this install's key.

    An expired `exp` is accepted: the client usually sends the ID token it received at sign-in,
    long since expired, and the spec asks the OP to take it (section 2).
    """
    claims = signing.claims_if_signed_here(hint)
    if claims is None or claims.get("iss") != issuer:
        return None
    # This provider's ID tokens name one client in `aud`, as a string.
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("aud"), str):
        return None
    return claims
