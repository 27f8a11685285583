"""The registry: every provider module this app knows, in button order, and the providers the
configuration switched on. Adding a provider is one module and one line in `MODULES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, current_app

from oauth.provider import Provider
from providers import demo, github, gitlab, google, oidc

# Button order on the sign-in page. Each module offers `NAME` and `from_config(config)`.
MODULES = (demo, github, google, gitlab, oidc)


def build(config: Mapping[str, Any]) -> dict[str, Provider]:
    """Every provider the configuration switches on, by name, in button order."""
    found: list[Provider] = []
    for module in MODULES:
        found.extend(module.from_config(config))
    return {provider.name: provider for provider in found}


def enabled() -> list[Provider]:
    """The providers offered on the sign-in page."""
    return list(current_app.extensions["providers"].values())


def get(name: str) -> Provider | None:
    """The configured provider with that name, if any."""
    return current_app.extensions["providers"].get(name)


def get_or_404(name: str) -> Provider:
    """The configured provider with that name; a 404 page when there is none."""
    provider = get(name)
    if provider is None:
        abort(404)
    return provider
