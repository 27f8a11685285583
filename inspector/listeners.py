"""How the inspector hears the flow: receivers of the engine's signals (`oauth.signals`) and the
account layer's (`accounts.signals`) that turn each announced fact into the steps of the trace,
in the inspector's words, redacted by `flow_trace` before anything is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, g, has_request_context, request

import accounts.signals
import oauth.signals
from inspector import flow_trace
from models import User, utcnow

# What the inspector says about each way this app authenticates to the token endpoint; the
# secret itself is never part of a step.
CLIENT_AUTHENTICATION = {
    "client_secret_basic": "client_secret_basic (HTTP Basic, secret redacted)",
    "client_secret_post": "client_secret_post (in the form, secret redacted)",
    "private_key_jwt": "private_key_jwt (a signed assertion, never the key)",
}
# Shown as sent in the token request, with what each proves; the value never is.
TOKEN_REQUEST_SECRETS = {
    "code_verifier": "sent (redacted): proves this app started the sign-in (PKCE)",
}
ABSENT = flow_trace.ABSENT
# The steps of a pushed authorization request, held until the button press is recorded.
PUSHED_REQUEST_STEPS = "flow_pushed_request"
SHOWN_CLAIMS = ("iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "name", "email")


def _keep(step: flow_trace.Step) -> None:
    """Keep a step for this request's trace; during a pushed authorization request, with the
    steps shown after the button press (that request is made before the press is recorded)."""
    pending = g.get(PUSHED_REQUEST_STEPS)
    (pending if pending is not None else g.setdefault("flow_steps", [])).append(step)


def _keep_with_pushed_request(step: flow_trace.Step) -> None:
    g.setdefault(PUSHED_REQUEST_STEPS, []).append(step)


def _signature_check(header: Mapping[str, Any]) -> tuple[str, str]:
    return (
        "signature",
        f"{header.get('alg')} with key {header.get('kid', '(only key)')} "
        "from the provider's jwks_uri: valid",
    )


def _listening() -> bool:
    """Steps belong to a browser's session: outside a request, or switched off, none are kept."""
    return has_request_context() and flow_trace.enabled()


# The button that started each kind of authorization request, and what the inspector says of it.
PURPOSES = {
    "sign_in": ("Sign in with", None),
    "link": ("Link", None),
    "reauthenticate": (
        "Sign in again at",
        "max_age=0 and prompt=login: the provider must have the person prove who they are now.",
    ),
    "grant": (
        "Allow at",
        "Incremental authorization: the link's granted scopes plus the one the page needs, "
        "asked for only now that the page is open (least privilege at sign-in).",
    ),
}


def sign_in_started(
    app: Flask,
    *,
    provider: oauth.Provider,
    authorization_url: str,
    linking: bool,
    purpose: str = "sign_in",
    scope: str = "",
    **facts: Any,
) -> None:
    """The button press, the redirect to the provider, and the browser's visit there."""
    if not _listening():
        return
    flow_trace.start_new_flow()
    label, note = PURPOSES.get(purpose, PURPOSES["link" if linking else "sign_in"])
    flow_trace.record(
        flow_trace.BROWSER,
        flow_trace.CLIENT,
        f"POST {request.path}",
        [
            ("button", f"{label} {provider.title}"),
            ("CSRF token", "checked"),
            ("scope asked for", scope or ABSENT),
        ],
        note=note,
    )
    # The pushed authorization request, if any, happened before the redirect: shown in order.
    for step in g.pop(PUSHED_REQUEST_STEPS, []):
        g.setdefault("flow_steps", []).append(step)
    parts = urlsplit(authorization_url)
    flow_trace.record(
        flow_trace.CLIENT,
        flow_trace.BROWSER,
        "303 See Other: go to the authorization endpoint",
        [("Location", f"{parts.scheme}://{parts.netloc}{parts.path}"), *parse_qsl(parts.query)],
        note="state, nonce and the PKCE verifier are kept server-side for this sign-in; only "
        "the verifier's SHA-256 (code_challenge) leaves the app.",
    )
    flow_trace.record(
        flow_trace.BROWSER,
        flow_trace.AUTHORIZATION_SERVER,
        f"GET {parts.path}",
        note="The provider authenticates the resource owner and asks for consent. This app sees "
        "none of it, and never the password.",
    )


def callback_accepted(
    app: Flask, *, provider: oauth.Provider, parameters: Mapping[str, str], **facts: Any
) -> None:
    """The provider's redirect back, and the browser delivering it to the callback."""
    if not _listening():
        return
    flow_trace.record(
        flow_trace.AUTHORIZATION_SERVER,
        flow_trace.BROWSER,
        "302 Found: back to the app's redirect URI",
        note="The authorization response travels through the browser, in the URL.",
    )
    details = [
        (
            "state",
            f"{flow_trace.digest(parameters['state'])}: matches a sign-in this browser started; "
            "used up now",
        ),
        ("iss", parameters.get("iss", flow_trace.ABSENT)),
    ]
    if "code" in parameters:
        details.insert(0, ("code", flow_trace.secret(parameters["code"])))
    if "error" in parameters:
        details.insert(0, ("error", parameters["error"]))
    flow_trace.record(flow_trace.BROWSER, flow_trace.CLIENT, f"GET {request.path}", details)


def pushed_authorization_request_sent(
    app: Flask,
    *,
    provider: oauth.Provider,
    endpoint: str,
    parameters: tuple[tuple[str, str], ...],
    **facts: Any,
) -> None:
    """The authorization request, pushed server to server (RFC 9126)."""
    if _listening():
        _keep_with_pushed_request(
            flow_trace.step(
                flow_trace.CLIENT,
                flow_trace.AUTHORIZATION_SERVER,
                f"POST {urlsplit(endpoint).path}: pushed authorization request",
                [
                    *parameters,
                    ("client authentication", CLIENT_AUTHENTICATION.get(provider.client_auth)),
                ],
                note="Server to server: the browser will carry only the request_uri, so nothing "
                "in the request can be read or changed on its way.",
            )
        )


def client_assertion_made(
    app: Flask, *, provider: oauth.Provider, endpoint: str, claims: Mapping[str, Any], **facts: Any
) -> None:
    """The assertion this app signed instead of sending a secret: its claims, never itself."""
    if not _listening():
        return
    made = flow_trace.step(
        flow_trace.CLIENT,
        flow_trace.CLIENT,
        "Client assertion signed (private_key_jwt)",
        [
            *((f"claim {name}", claims[name]) for name in ("iss", "sub", "aud", "jti", "exp")),
            ("client_assertion", "sent (redacted): signed with this app's key"),
        ],
        note=f"For {urlsplit(endpoint).path}. aud is the issuer, so the assertion is good at "
        "this provider only; jti and a short exp keep it from being replayed.",
    )
    _keep(made)


def dpop_proof_made(
    app: Flask,
    *,
    provider: oauth.Provider,
    method: str,
    url: str,
    key_thumbprint: str,
    nonce: bool,
    access_token_hash: bool,
    **facts: Any,
) -> None:
    """A DPoP proof this app signed: what it binds, never the proof (replayable while fresh)."""
    if not _listening():
        return
    made = flow_trace.step(
        flow_trace.CLIENT,
        flow_trace.CLIENT,
        "DPoP proof signed (RFC 9449)",
        [
            ("header typ", "dpop+jwt"),
            ("header jwk", f"the public key, thumbprint {key_thumbprint}"),
            ("claim htm", method),
            ("claim htu", url),
            ("claim jti", "unique to this proof"),
            ("claim nonce", "the provider's latest" if nonce else "none asked for yet"),
            ("claim ath", "hash of the access token sent with it" if access_token_hash else ABSENT),
        ],
        note="The tokens are bound to this key: a copy of them is useless without it.",
    )
    _keep(made)


def pushed_authorization_request_answered(
    app: Flask, *, provider: oauth.Provider, request_uri: str, expires_in: Any, **facts: Any
) -> None:
    if _listening():
        _keep_with_pushed_request(
            flow_trace.step(
                flow_trace.AUTHORIZATION_SERVER,
                flow_trace.CLIENT,
                "201 Created: a request_uri for the browser",
                [("request_uri", request_uri), ("expires_in", expires_in)],
            )
        )


def token_request_sent(
    app: Flask,
    *,
    provider: oauth.Provider,
    grant_type: str,
    parameters: tuple[tuple[str, str], ...],
    client_authentication: str,
    **facts: Any,
) -> None:
    """The back-channel POST to the token endpoint: what the form carried, secrets redacted."""
    if not _listening():
        return
    details: list[tuple[str, object]] = []
    for name, value in parameters:
        if name in TOKEN_REQUEST_SECRETS:
            details.append((name, TOKEN_REQUEST_SECRETS[name]))
        elif name in ("code", "refresh_token"):
            details.append((name, flow_trace.secret(value)))
        else:
            details.append((name, value))
    details.append(
        (
            "client authentication",
            CLIENT_AUTHENTICATION.get(client_authentication, client_authentication),
        )
    )
    flow_trace.record(
        flow_trace.CLIENT, flow_trace.AUTHORIZATION_SERVER, "POST token endpoint", details
    )


def token_response_received(
    app: Flask, *, provider: oauth.Provider, grant_type: str, token: Mapping[str, Any], **facts: Any
) -> None:
    """The token endpoint's answer: which tokens came back, each redacted."""
    if _listening():
        flow_trace.record_token_response(token, previous_refresh=grant_type == "refresh_token")


def id_token_verified(
    app: Flask,
    *,
    provider: oauth.Provider,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    nonce_checked: bool,
    **facts: Any,
) -> None:
    """The verified ID token of a sign-in: its header, claims and each check it passed.

    Only the sign-in's: the trace shows a refresh through its token response, and an ID token
    that comes back with a refresh has no nonce to match.
    """
    if not nonce_checked or not _listening():
        return
    checks = [
        _signature_check(header),
        ("iss", "equals the configured issuer"),
        ("aud", "is exactly this app's client id"),
        ("exp", "in the future"),
        ("iat", "not in the future"),
        ("nonce", "matches this sign-in's nonce"),
    ]
    if "at_hash" in claims:
        checks.append(("at_hash", "matches the access token"))
    flow_trace.record(
        flow_trace.CLIENT,
        flow_trace.CLIENT,
        "ID token verified",
        [
            *((f"header {name}", header[name]) for name in ("alg", "kid", "typ") if name in header),
            *((f"claim {name}", claims[name]) for name in SHOWN_CLAIMS if name in claims),
            *((f"check {name}", result) for name, result in checks),
        ],
    )


def logout_token_verified(
    app: Flask,
    *,
    provider: oauth.Provider,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    **facts: Any,
) -> None:
    """A provider's back-channel logout token passed its checks: kept for the sessions it ends
    (this request is the provider's, not a browser's, so nothing is recorded for it here)."""
    if not _listening():
        return
    checks = [
        _signature_check(header),
        ("typ", "logout+jwt, or absent"),
        ("iss", "equals the configured issuer"),
        ("aud", "is exactly this app's client id"),
        ("iat", "recent, not in the future"),
        ("exp", "in the future" if "exp" in claims else "absent (allowed)"),
        ("events", "holds the back-channel logout event"),
        ("nonce", "absent, so no ID token can pass for a logout token"),
        ("jti", "never accepted before, on any instance (checked in the database)"),
    ]
    g.flow_logout_token = flow_trace.step(
        flow_trace.AUTHORIZATION_SERVER,
        flow_trace.CLIENT,
        f"POST /backchannel-logout/{provider.name}: a logout token, server to server",
        [
            *((f"header {name}", header[name]) for name in ("alg", "kid", "typ") if name in header),
            *(
                (f"claim {name}", claims[name])
                for name in ("iss", "aud", "sub", "sid", "iat", "exp", "jti", "events")
                if name in claims
            ),
            *((f"check {name}", result) for name, result in checks),
        ],
        note="No browser carried it: the provider called this app directly when your session "
        "there ended.",
    )


def provider_ended_sessions(
    app: Flask, *, provider: oauth.Provider, session_ids: list[int], **facts: Any
) -> None:
    """The sessions a logout token named have ended: each browser sees why when it comes back."""
    message = g.pop("flow_logout_token", None)
    if message is None or not _listening():
        return
    ended = flow_trace.step(
        flow_trace.CLIENT,
        flow_trace.CLIENT,
        f"Session ended by {provider.title}",
        [("sessions ended", len(session_ids))],
        note="The next request in this browser is signed out and told why.",
    )
    flow_trace.record_for_ended_sessions(session_ids, [message, ended])


def ended_session_noticed(app: Flask, *, session, **facts: Any) -> None:
    """A browser whose session ended elsewhere came back: the steps that ended it join its trace."""
    if _listening():
        flow_trace.adopt_steps_of_ended_session(session.id)


def api_request_sent(
    app: Flask, *, provider: oauth.Provider, method: str, url: str, access_token: str, **facts: Any
) -> None:
    """A call to the resource server, its bearer token redacted."""
    if _listening():
        flow_trace.record(
            flow_trace.CLIENT,
            flow_trace.RESOURCE_SERVER,
            f"{method} {url}",
            [("Authorization", "Bearer " + flow_trace.secret(access_token))],
        )


def api_response_received(
    app: Flask, *, provider: oauth.Provider, url: str, status_code: int, reason: str, **facts: Any
) -> None:
    """The resource server's status line; its body stays out of the trace."""
    if _listening():
        flow_trace.record(flow_trace.RESOURCE_SERVER, flow_trace.CLIENT, f"{status_code} {reason}")


def signed_in(
    app: Flask, *, provider: oauth.Provider, user: User, destination: str, **facts: Any
) -> None:
    """The redirect that ends a sign-in, and who it signed in."""
    if _listening():
        flow_trace.record(
            flow_trace.CLIENT,
            flow_trace.BROWSER,
            f"303 See Other: {destination}",
            [
                ("signed in as", user.display_name),
                ("session", "cleared and renewed (no fixation)"),
            ],
        )


def access_token_checked(
    app: Flask,
    *,
    expires_at: datetime | None,
    leeway: float,
    refresh: bool,
    reason: str | None,
    **facts: Any,
) -> None:
    """Whether the stored access token is used as is, and if not, why."""
    if not _listening():
        return
    if expires_at is None:
        remaining = "no expiry given by the provider"
    else:
        seconds = int((expires_at - utcnow()).total_seconds())
        remaining = f"expires in {seconds} s" if seconds >= 0 else f"expired {-seconds} s ago"
    if not refresh:
        title, note = f"Access token {remaining}: use it", None
    else:
        title = f"Access token {remaining}: refresh it first"
        note = (
            reason
            or f"It lapses within the {round(leeway)} s leeway, so it could expire in flight."
        )
    flow_trace.record(flow_trace.CLIENT, flow_trace.CLIENT, title, note=note)


def refreshed_meanwhile(app: Flask, **facts: Any) -> None:
    """The refresh this request was about to make, found done by another one."""
    if _listening():
        flow_trace.record(
            flow_trace.CLIENT,
            flow_trace.CLIENT,
            "Another request just refreshed it",
            note="Its new token is used; the refresh token is not spent twice.",
        )


def scopes_changed(
    app: Flask,
    *,
    provider: str,
    before: tuple[str, ...],
    after: tuple[str, ...],
    requested: tuple[str, ...],
    **facts: Any,
) -> None:
    """What the link's tokens cover, before and after; what was asked for and not granted."""
    if not _listening():
        return
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    declined = [name for name in requested if name not in after]
    flow_trace.record(
        flow_trace.CLIENT,
        flow_trace.CLIENT,
        "Scopes granted: recorded for the link",
        [
            ("before", " ".join(before) or ABSENT),
            ("after", " ".join(after) or ABSENT),
            ("added", " ".join(added) or ABSENT),
            ("removed", " ".join(removed) or ABSENT),
            ("asked for, not granted", " ".join(declined) or ABSENT),
        ],
        note="From the token response's scope (RFC 6749 §3.3: granted is not requested); the "
        "pages offer what was granted.",
    )


RECEIVERS = (
    (accounts.signals.sign_in_started, sign_in_started),
    (accounts.signals.callback_accepted, callback_accepted),
    (oauth.signals.pushed_authorization_request_sent, pushed_authorization_request_sent),
    (oauth.signals.client_assertion_made, client_assertion_made),
    (oauth.signals.dpop_proof_made, dpop_proof_made),
    (oauth.signals.pushed_authorization_request_answered, pushed_authorization_request_answered),
    (oauth.signals.token_request_sent, token_request_sent),
    (oauth.signals.token_response_received, token_response_received),
    (oauth.signals.id_token_verified, id_token_verified),
    (oauth.signals.logout_token_verified, logout_token_verified),
    (accounts.signals.provider_ended_sessions, provider_ended_sessions),
    (accounts.signals.ended_session_noticed, ended_session_noticed),
    (oauth.signals.api_request_sent, api_request_sent),
    (oauth.signals.api_response_received, api_response_received),
    (accounts.signals.signed_in, signed_in),
    (accounts.signals.access_token_checked, access_token_checked),
    (accounts.signals.refreshed_meanwhile, refreshed_meanwhile),
    (accounts.signals.scopes_changed, scopes_changed),
)


def init_app(app: Flask) -> None:
    """Listen to every signal the trace is drawn from, for this app only."""
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, sender=app)
