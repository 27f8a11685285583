"""Reading a built-in provider's settings from configuration: `<NAME>_CLIENT_ID`,
`<NAME>_CLIENT_SECRET` and the optional `<NAME>_SCOPE`, `<NAME>_TITLE`, `<NAME>_ISSUER` and
`<NAME>_ACR_VALUES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config import ConfigurationError
from oauth.provider import Provider


def credentials(config: Mapping[str, Any], name: str) -> tuple[str, str] | None:
    """(client id, client secret) when the provider is switched on, None when it is off.

    A provider switches on when its client id is set; a client id without a secret is a mistake
    worth stopping for rather than a button that fails at the provider.
    """
    prefix = name.upper()
    client_id = config.get(f"{prefix}_CLIENT_ID")
    if not client_id:
        return None
    client_secret = config.get(f"{prefix}_CLIENT_SECRET")
    if not client_secret:
        raise ConfigurationError(f"{prefix}_CLIENT_ID is set but {prefix}_CLIENT_SECRET is not.")
    return client_id, client_secret


def optional(config: Mapping[str, Any], name: str, setting: str, default: str) -> str:
    """`<NAME>_<SETTING>` if configured, else the default."""
    return config.get(f"{name.upper()}_{setting}") or default


def acr_values(config: Mapping[str, Any], name: str) -> str | None:
    """`<NAME>_ACR_VALUES`: the authentication context classes to require, or None."""
    value = " ".join(str(config.get(f"{name.upper()}_ACR_VALUES") or "").split())
    return value or None


def built_in(
    config: Mapping[str, Any], name: str, *, title: str, scope: str, **fields: Any
) -> list[Provider]:
    """The built-in provider `name` when its client id is set, else nothing.

    Its title and scope can be overridden by `<NAME>_TITLE` and `<NAME>_SCOPE`; `fields` are
    the rest of the provider's definition.
    """
    found = credentials(config, name)
    if found is None:
        return []
    client_id, client_secret = found
    return [
        Provider(
            name=name,
            title=optional(config, name, "TITLE", title),
            client_id=client_id,
            client_secret=client_secret,
            scope=optional(config, name, "SCOPE", scope),
            acr_values=acr_values(config, name),
            **fields,
        )
    ]
