"""Hypothesis settings shared by the fuzz tests of the app and of the demo provider."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz_settings(max_examples: int) -> settings:
    """The same examples on every run, no example database written into the checkout, no
    deadline (a request to a live server varies), and fixtures shared across examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
