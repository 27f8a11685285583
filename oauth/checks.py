"""Whether a provider can be used as configured, asked ahead of any sign-in (`flask --app app
providers --check` and `doctor --online`): its discovery document and keys, and the features the
configuration requires of it (PAR, DPoP, the client authentication method).
"""

from __future__ import annotations

from oauth import metadata, par, sender_constraint
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
