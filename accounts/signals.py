"""What happens to a person's sign-in and tokens, announced for plug-ins (the flow inspector draws
it): a sign-in sent to its provider, the provider's answer accepted at the callback, the person
signed in, and whether the token vault uses a stored access token or refreshes it first.

Sent by the views that start and finish a sign-in and by the token vault, with the current app as
sender, like the engine's signals in `oauth.signals`; payloads are facts, secrets included.
"""

from __future__ import annotations

import oauth.signals

namespace = oauth.signals.Namespace()

sign_in_started = namespace.signal(
    "sign-in-started",
    doc="""A sign-in (or a link) was stored as pending and the browser is being sent to the
    provider's authorization endpoint.

    provider: the Provider; authorization_url: where the browser goes, with its query (state,
    nonce, code_challenge...); linking: True when a signed-in user links another provider (or
    grants more, or proves who they are again); purpose: "sign_in", "link", "grant" (asking for
    more scopes for a feature) or "reauthenticate"; scope: the scopes asked for.
    """,
)

callback_accepted = namespace.signal(
    "callback-accepted",
    doc="""The provider sent the browser back with the state of a sign-in this browser started;
    that sign-in is now used up, and its code is about to be redeemed.

    provider: the Provider; parameters: the callback's query (code or error, state, iss...).
    """,
)

signed_in = namespace.signal(
    "signed-in",
    doc="""A person signed in: the session was cleared and renewed, and the browser is sent on.

    provider: the Provider; user: the User; destination: the path the browser goes to.
    """,
)

access_token_checked = namespace.signal(
    "access-token-checked",
    doc="""The vault decided whether a link's stored access token is used as is or refreshed first.

    provider: the provider's name; user_id; expires_at: when the token lapses (None when the
    provider gave no expiry); leeway: seconds before expiry at which it is refreshed; refresh: the
    decision; reason: why a refresh was asked for, None when the leeway alone decided.
    """,
)

refreshed_meanwhile = namespace.signal(
    "refreshed-meanwhile",
    doc="""While this request waited for the link's row lock, another one refreshed the access
    token: its new token is used and the refresh token is not spent twice.

    provider: the provider's name; user_id.
    """,
)

provider_ended_sessions = namespace.signal(
    "provider-ended-sessions",
    doc="""A provider's back-channel logout token was accepted, and the sessions it names ended.

    provider: the Provider; subject and sid: what the token named (either may be None);
    session_ids: the ids of the sessions that ended (UserSession.id).
    """,
)

ended_session_noticed = namespace.signal(
    "ended-session-noticed",
    doc="""A browser came back with the cookie of a session that has ended (by the provider, or
    from another session): it is signed out, and told who ended it.

    session: the ended UserSession.
    """,
)

scopes_changed = namespace.signal(
    "scopes-changed",
    doc="""What a link's tokens cover changed: more granted after asking for more, fewer after
    the person unticked or took back a scope, or after a refresh that came back narrower.

    provider: the provider's name; before, after: the scopes granted (tuples); requested: the
    scopes asked for.
    """,
)
