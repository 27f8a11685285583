"""The providers this app can offer: one module per provider (a small value and a pure mapping of
its API), and the registry that builds the configured ones. The conversation with them lives in
`oauth/`.

Callers import this package (`providers.get(name)`), so the call site shows the layer.
"""

from providers.registry import build, enabled, get, get_or_404
from providers.settings import client_signing_keys

__all__ = ["build", "client_signing_keys", "enabled", "get", "get_or_404"]
