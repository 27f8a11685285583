"""Whether a provider can be used as configured, asked ahead of any sign-in (`flask --app app
providers --check` and `doctor --online`): its discovery document and keys, and the features the
configuration requires of it (PAR, DPoP, the client authentication method).
"""

from __future__ import annotations

from flask import current_app

from oauth import client_keys, metadata, par, sender_constraint
from oauth.errors import ProviderMisconfigured, ProviderUnavailable
from oauth.provider import Provider


def check(provider: Provider) -> str | None:
    """What stands in the way of signing in with the provider, or None when nothing does."""
    problem = metadata.check(provider)
    if problem is not None or not provider.is_oidc:
        return problem
    try:
        par.endpoint(provider)
        sender_constraint.algorithm(provider)
        _client_authentication(provider)
    except (ProviderUnavailable, ProviderMisconfigured) as error:
        return f"{error.reason}: {error.message}"
    return None


def _client_authentication(provider: Provider) -> None:
    offered = metadata.server_metadata(provider).get("token_endpoint_auth_methods_supported")
    # Absent means client_secret_basic only (RFC 8414 §2); a list must name ours.
    if provider.client_auth not in (
        offered if isinstance(offered, list) else ["client_secret_basic"]
    ):
        raise ProviderMisconfigured(
            "client_auth_not_supported",
            f"{provider.title} does not accept {provider.client_auth}, which this site is set "
            "to authenticate with.",
        )
    if provider.client_auth == "private_key_jwt":
        _client_key_algorithm(provider)


def _client_key_algorithm(provider: Provider) -> None:
    """The provider must take assertions signed the way this site's key signs: RFC 9864 split
    EdDSA into two names, and a provider that lists only the other one refuses every assertion
    (as `invalid_client`, which says nothing of why)."""
    offered = metadata.server_metadata(provider).get(
        "token_endpoint_auth_signing_alg_values_supported"
    )
    keys = current_app.extensions["client_signing_keys"]
    if not isinstance(offered, list) or not keys:
        return  # not listed: nothing to compare (RFC 8414 §2 gives no default)
    signs_with = client_keys.algorithm(client_keys.signing_key(keys))
    if signs_with in offered:
        return
    hint = ""
    if signs_with in client_keys.ED25519_NAMES:
        # The same key signs under the other name once its JWK says so.
        other = next(name for name in client_keys.ED25519_NAMES if name != signs_with)
        if other in offered:
            hint = f' Give the key "alg": "{other}" in CLIENT_SIGNING_KEYS.'
    # Only names this client knows are repeated: the rest of the list is the provider's text.
    known = [name for name in client_keys.ALGORITHMS if name in offered]
    listed = f"it lists {', '.join(known)}" if known else "it lists none this client signs with"
    raise ProviderMisconfigured(
        "client_key_algorithm_not_supported",
        f"{provider.title} does not accept client assertions signed with {signs_with}, the "
        f"algorithm of this site's signing key; {listed}.{hint}",
    )
