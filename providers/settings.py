"""Reading a provider's settings from configuration: `<NAME>_CLIENT_ID`, `<NAME>_CLIENT_SECRET`
and the optional `<NAME>_SCOPE`, `<NAME>_TITLE`, `<NAME>_ISSUER`, `<NAME>_ACR_VALUES`, and the
security switches `<NAME>_CLIENT_AUTH`, `<NAME>_PAR`, `<NAME>_DPOP` and `<NAME>_PROFILE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config import ConfigurationError
from oauth import client_keys
from oauth.provider import Provider

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
FEATURE_MODES = ("auto", "required", "off")
PROFILES = ("fapi2",)
# FAPI 2.0 Security Profile §5.4.1: only these signature algorithms (RS256 is not among them).
# Its "EdDSA using the Ed25519 variant" is RFC 9864's `Ed25519`, accepted under both names.
FAPI2_ALGORITHMS = ("PS256", "ES256", "Ed25519", "EdDSA")
# What `<NAME>_PROFILE=fapi2` sets, as one switch.
FAPI2_SETTINGS = {"CLIENT_AUTH": "private_key_jwt", "PAR": "required", "DPOP": "required"}


def kept_secret(config: Mapping[str, Any], name: str, options: Mapping[str, Any]) -> str | None:
    """The client secret to keep: none with private_key_jwt, whose signed assertion replaces it
    (never sent, so never kept: FAPI 2.0 §5.3.3 allows no shared secret); else the configured
    `<NAME>_CLIENT_SECRET`. `options` are the provider's `security` switches."""
    if options["client_auth"] == "private_key_jwt":
        return ""
    return config.get(f"{name.upper()}_CLIENT_SECRET")


def security(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The provider's security switches, as Provider fields; ConfigurationError on a value that
    is not one of the documented ones (a typo must not quietly mean the weaker default)."""
    prefix = name.upper()
    profile = _choice(config, prefix, "PROFILE", PROFILES, None)
    fields: dict[str, Any] = {
        "client_auth": _choice(
            config, prefix, "CLIENT_AUTH", CLIENT_AUTH_METHODS, "client_secret_basic"
        ),
        "par": _choice(config, prefix, "PAR", FEATURE_MODES, "auto"),
        "dpop": _choice(config, prefix, "DPOP", FEATURE_MODES, "auto"),
        "profile": profile,
        "acr_values": acr_values(config, name),
    }
    if profile == "fapi2":
        for setting, value in FAPI2_SETTINGS.items():
            configured = config.get(f"{prefix}_{setting}")
            if configured and str(configured).strip().lower() != value:
                raise ConfigurationError(
                    f"{prefix}_PROFILE=fapi2 sets {prefix}_{setting}={value}; "
                    f"remove {prefix}_{setting}={configured}."
                )
        fields.update(
            client_auth="private_key_jwt",
            par="required",
            dpop="required",
            id_token_algorithms=FAPI2_ALGORITHMS,
            require_authorization_response_iss=True,
        )
    return fields


def _choice(
    config: Mapping[str, Any], prefix: str, setting: str, allowed: tuple[str, ...], default
):
    raw = config.get(f"{prefix}_{setting}")
    if raw is None or str(raw).strip() == "":
        return default
    value = str(raw).strip().lower()
    if value not in allowed:
        raise ConfigurationError(
            f"{prefix}_{setting} must be one of {', '.join(allowed)} (not {raw!r})."
        )
    return value


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

    A client id without a secret is a mistake worth stopping for rather than a button that
    fails at the provider, unless the client proves itself with a signed assertion
    (`private_key_jwt`), which needs no secret at all. Its title and scope can be overridden by
    `<NAME>_TITLE` and `<NAME>_SCOPE`; `fields` are the rest of the provider's definition.
    """
    prefix = name.upper()
    client_id = config.get(f"{prefix}_CLIENT_ID")
    if not client_id:
        return []  # switched off: its other settings are not read
    options = security(config, name)
    client_secret = kept_secret(config, name, options)
    if not client_secret and options["client_auth"] != "private_key_jwt":
        raise ConfigurationError(f"{prefix}_CLIENT_ID is set but {prefix}_CLIENT_SECRET is not.")
    return [
        Provider(
            name=name,
            title=optional(config, name, "TITLE", title),
            client_id=client_id,
            client_secret=client_secret,
            scope=optional(config, name, "SCOPE", scope),
            **{**fields, **options},
        )
    ]


def client_signing_keys(config: Mapping[str, Any], configured: list[Provider]) -> list:
    """The client's signing keys from `CLIENT_SIGNING_KEYS`; ConfigurationError when they are
    unreadable, or missing while a provider authenticates with private_key_jwt."""
    text = config.get("CLIENT_SIGNING_KEYS")
    if not text:
        needing = [p.name for p in configured if p.client_auth == "private_key_jwt"]
        if needing:
            raise ConfigurationError(
                f"CLIENT_SIGNING_KEYS is not set, and {', '.join(needing)} authenticates with "
                "private_key_jwt. See README, 'Sender-constrained tokens'."
            )
        return []
    try:
        return client_keys.parse(text)
    except ValueError as error:
        raise ConfigurationError(f"CLIENT_SIGNING_KEYS: {error}") from None
