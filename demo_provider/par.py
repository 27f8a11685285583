"""Pushed authorization requests (RFC 9126): instead of putting the authorization request in the
browser's address bar, the client POSTs it to `/par`, authenticated as at the token endpoint,
and gets back a one-time `request_uri`; the browser then carries only `client_id` and that
reference to `/authorize`.

Why: the request is checked before the person sees anything, with the client authenticated (an
attacker cannot start a flow in the client's name with parameters of their choosing); nothing in
it can be read or altered in the browser, its history or its extensions; and the URL stays
short. Hence the rules here: the pushed parameters are validated as the authorization endpoint
would (redirect URI, response type, PKCE S256, scope, nonce); the reference is random, stored
as a digest, belongs to one client and expires after LIFETIME seconds unless a browser has
brought it to the authorization endpoint by then; it is spent when the person decides, so it
cannot start a second authorization; and at the authorization endpoint only the pushed
parameters count (section 4).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.endpoint import Endpoint, EndpointRequest
from flask import current_app, request
from sqlalchemy import delete, select, update
from werkzeug.datastructures import MultiDict

from demo_provider import dpop, grants
from demo_provider.extensions import db
from demo_provider.models import PushedAuthorizationRequest, digest, epoch_now

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# RFC 9126 section 2.2: long enough for the client to redirect the browser, no longer.
LIFETIME = 60
# Once a browser has brought the request to the authorization endpoint, the person has this long
# to sign in and decide (a sign-in can take longer than LIFETIME).
DECISION_WINDOW = 600
ENDPOINT_NAME = "pushed_authorization_request"
# The client's credentials travel with the pushed request but are not part of it.
_AUTHENTICATION_FIELDS = {"client_secret", "client_assertion", "client_assertion_type"}


def required() -> bool:
    """Whether authorization requests must be pushed (DEMO_PROVIDER_REQUIRE_PAR)."""
    return current_app.config["DEMO_PROVIDER_REQUIRE_PAR"]


def is_pushed_reference(value: str | None) -> bool:
    """Whether a request_uri is one this endpoint hands out (others would be request objects)."""
    return bool(value) and value.startswith(REQUEST_URI_PREFIX)


class _ListPayload(OAuth2Payload):
    """Authorization request parameters from a list rather than from the HTTP request."""

    def __init__(self, parameters: MultiDict) -> None:
        self._parameters = parameters

    @property
    def data(self) -> MultiDict:
        """The parameters, first value of each name by default."""
        return self._parameters

    @property
    def datalist(self) -> dict[str, list[str]]:
        """Every value of every name, for the check that none is repeated."""
        return {name: self._parameters.getlist(name) for name in self._parameters}


class ParametersRequest(OAuth2Request):
    """An authorization request made of given parameters (pushed ones, or those of a PAR POST
    without the client's credentials), on the HTTP request being served.
    """

    def __init__(self, parameters: MultiDict) -> None:
        super().__init__(request.method, request.url, headers=request.headers)
        self.payload = _ListPayload(parameters)
        self.dpop_jkt = None

    @property
    def args(self) -> MultiDict:
        """The parameters."""
        return self.payload.data

    @property
    def form(self) -> MultiDict:
        """The parameters."""
        return self.payload.data


@dataclass
class PushRequest(EndpointRequest):
    """A validated push: the authorization request's parameters, ready to store."""

    parameters: MultiDict | None = None


class PushedAuthorizationRequestEndpoint(Endpoint):
    """`POST /par`: authenticate the client, check the request, store it, answer 201 with its
    `request_uri` and `expires_in`. Errors are JSON (RFC 9126 section 2.3), never a redirect:
    the client, not a browser, is on the other end.
    """

    ENDPOINT_NAME = ENDPOINT_NAME
    CLIENT_AUTH_METHODS = grants.CLIENT_AUTH_METHODS

    def validate_request(self, oauth_request: OAuth2Request) -> PushRequest:
        """Authenticate the client, then validate its request as the authorization endpoint
        would; OAuth2Error (as JSON) on any problem.
        """
        client = self.server.authenticate_client(
            oauth_request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME
        )
        form = oauth_request.form
        claimed = form.get("client_id")
        if claimed is not None and claimed != client.client_id:
            raise InvalidRequestError("client_id does not match the authenticated client.")
        if "request_uri" in form:
            # Section 2.1: a pushed request cannot itself point somewhere else.
            raise InvalidRequestError("request_uri cannot be pushed.")
        if "request" in form:
            raise OAuth2Error(
                error="request_not_supported", description="Request objects are not supported."
            )
        parameters = MultiDict(form.items(multi=True))
        for name in _AUTHENTICATION_FIELDS:
            parameters.poplist(name)
        if claimed is None:
            # Optional for a client authenticated otherwise; the browser will name it.
            parameters.add("client_id", client.client_id)
        self._bind_dpop_key(parameters)
        try:
            authorization = ParametersRequest(parameters)
            grant = self.server.get_authorization_grant(authorization)
            grant.validate_no_multiple_request_parameter(authorization)
            grant.validate_authorization_request()
        except OAuth2Error as error:
            # Answered to the client as JSON, not as a redirect to its redirect URI.
            error.redirect_uri = None
            error.state = None
            raise
        return PushRequest(request=oauth_request, client=client, parameters=parameters)

    def create_response(self, validated: PushRequest):
        """Store the request under a fresh reference and answer 201."""
        now = epoch_now()
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        # Requests nobody opened in time, and those long decided, are of no further use.
        db.session.execute(
            delete(PushedAuthorizationRequest).where(
                PushedAuthorizationRequest.expires_at < now - DECISION_WINDOW
            )
        )
        db.session.add(
            PushedAuthorizationRequest(
                request_uri_hash=digest(request_uri),
                client_id=validated.client.client_id,
                parameters=[list(item) for item in validated.parameters.items(multi=True)],
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
        db.session.commit()
        body = {"request_uri": request_uri, "expires_in": LIFETIME}
        # JSON, Cache-Control: no-store and Pragma: no-cache (section 2.2).
        return 201, body, default_json_headers

    def _bind_dpop_key(self, parameters: MultiDict) -> None:
        """A DPoP proof sent with the push binds the code to its key, as `dpop_jkt` would
        (RFC 9449 section 10.1); both at once must name the same key.
        """
        jkt = dpop.key_of_token_request(dpop.issuer_url("/par"), required=False)
        if jkt is None:
            return
        named = parameters.get("dpop_jkt")
        if named is not None and named != jkt:
            raise dpop.InvalidDpopProofError("dpop_jkt names another key than the DPoP proof.")
        parameters["dpop_jkt"] = jkt


@dataclass
class Pushed:
    """A pushed request brought to the authorization endpoint: its row and its parameters."""

    row: PushedAuthorizationRequest
    uri: str
    parameters: MultiDict

    def signed_in_since_opened(self, auth_time: int) -> bool:
        """Whether the person signed in after this request first reached the authorization
        endpoint: a prompt=login or max_age in it has then been satisfied. Strictly after: a
        sign-in in the same second may have come just before, and a person cannot load and
        submit the sign-in form within the second the request arrived anyway.
        """
        return self.row.opened_at is not None and auth_time > self.row.opened_at


def open_request(client_id: str | None, request_uri: str) -> Pushed:
    """The pushed request `request_uri` names, for `client_id`, if it is still usable; marks
    when a browser first brought it. InvalidRequestUri otherwise (shown, never redirected: the
    redirect URI is not known to be this client's until the request is found).
    """
    row = db.session.scalar(
        select(PushedAuthorizationRequest).where(
            PushedAuthorizationRequest.request_uri_hash == digest(request_uri)
        )
    )
    now = epoch_now()
    if row is None or row.client_id != client_id:
        # Another client's reference is treated as unknown: it says nothing about that client.
        raise InvalidRequestUri("The request_uri is unknown to this client.")
    if row.used_at is not None:
        raise InvalidRequestUri("The request_uri was already used.")
    if row.opened_at is None:
        if now > row.expires_at:
            raise InvalidRequestUri("The request_uri has expired.")
        row.opened_at = now
        db.session.commit()
    elif now > row.opened_at + DECISION_WINDOW:
        raise InvalidRequestUri("The request_uri has expired.")
    parameters = MultiDict([tuple(item) for item in row.parameters])
    return Pushed(row=row, uri=request_uri, parameters=parameters)


def spend(pushed: Pushed) -> bool:
    """Mark the request used; True only for the first caller, even under concurrent requests."""
    result = db.session.execute(
        update(PushedAuthorizationRequest)
        .where(
            PushedAuthorizationRequest.id == pushed.row.id,
            PushedAuthorizationRequest.used_at.is_(None),
        )
        .values(used_at=epoch_now())
    )
    db.session.commit()
    return result.rowcount == 1


class InvalidRequestUri(OAuth2Error):
    """OIDC Core section 6.2's `invalid_request_uri`: the reference cannot be used."""

    error = "invalid_request_uri"
