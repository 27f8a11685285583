"""What DPoP costs the client per call: signing one proof (RFC 9449) with each algorithm it can
use, in process. Every token request, refresh and API call of a DPoP-bound link signs one; the
figure says what a profile view pays for binding its tokens, beside its ~2.5 ms of worker CPU.
"""

from __future__ import annotations

import time

from bench import site
from bench.report import Result
from oauth import dpop

NAME = "dpop"
TITLE = "DPoP proof per call"
URL = "https://provider.example/api/profile"
# A token of the demo provider's size; its hash becomes the proof's `ath`.
ACCESS_TOKEN = "x" * 43


def _per_proof(alg: str, rounds: int) -> float:
    """Median microseconds to sign one proof with `alg`, over five batches."""
    key = dpop.new_key(alg)
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            dpop.proof(key, method="GET", url=URL, nonce="n-0S6", access_token=ACCESS_TOKEN)
        batches.append((time.perf_counter() - started) / rounds * 1e6)
    return sorted(batches)[2]


def run(options: site.Options) -> Result:
    rounds = 100 if options.quick else 500
    figures = [f"{alg}: {_per_proof(alg, rounds):.0f} µs per proof" for alg in dpop.ALGORITHMS]
    return Result(
        title=TITLE,
        figures=figures,
        goal="none set (figure only)",
        met=None,
        notes=[
            "Signed in this process, with a nonce and `ath`, as for an API call; the median "
            "of five batches. ES256 is what the app picks when the provider offers it."
        ],
    )
