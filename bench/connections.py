"""Upstream TCP connections opened per 1,000 profile views.

Two gunicorn instances of three gthread workers with four threads each (24 worker threads) serve
a signed-in user with a valid access token. After a warm-up of profile views, 1,000 more are made
by 16 client threads with kept-alive connections, spread over both instances; the demo provider's
server counts the TCP connections it accepts meanwhile. Each worker keeps a pool of connections
to the provider, so once warm it should open none: the goal is at most one per worker thread.

The provider is served by cheroot, which keeps connections alive as real providers do (see
bench/provider_server.py); `--provider-server werkzeug` shows what the tests' server does.
"""

from __future__ import annotations

from bench import load, site
from bench.report import Result

NAME = "connections"
TITLE = "Upstream TCP connections per 1,000 profile views"
INSTANCES, WORKERS, THREADS = 2, 3, 4
CONCURRENCY = 16
VIEWS = 1000
WARMUP_VIEWS = 200
TIME_LIMIT = 60.0
CLOSING_SERVER_NOTE = {
    "werkzeug": [
        "werkzeug's server closes every connection after one answer, so this counts one per",
        "call whatever the client does: the figure is the server's, not the app's pooling.",
    ]
}


def run(options: site.Options) -> Result:
    """Warm up, then count the provider's accepted connections over 1,000 views."""
    worker_threads = INSTANCES * WORKERS * THREADS
    with site.running(
        options, NAME, instances=INSTANCES, workers=WORKERS, threads=THREADS
    ) as running:
        deployment = running.deployment
        server = running.provider_server
        browser = site.signed_in(deployment)
        targets = site.profile_targets(deployment, browser)
        settings = {
            "concurrency": CONCURRENCY,
            "seconds": TIME_LIMIT,
            "expect": site.LIVE_PROFILE_TEXT,
        }
        before_warmup = server.accepted
        warmup = load.run(targets, requests=WARMUP_VIEWS, **settings)
        before = server.accepted
        views = load.run(targets, requests=VIEWS, **settings)
        opened = server.accepted - before
        api_calls = len(deployment.provider.recorder.calls("/api/profile"))
    if views.ok + views.failed < VIEWS:
        raise RuntimeError(f"only {views.ok + views.failed} views in {TIME_LIMIT:.0f} s")
    per_thousand = opened * 1000 / (views.ok + views.failed)
    return Result(
        title=TITLE,
        figures=[
            f"opened during {VIEWS:,} views: {opened} ({per_thousand:.0f} per 1,000)",
            f"opened during the {WARMUP_VIEWS} warm-up views: {before - before_warmup}",
            f"failed views: {views.failed + warmup.failed}; API calls seen: {api_calls}",
        ],
        goal=f"≤ {worker_threads} (worker threads in the deployment) per 1,000 views",
        met=per_thousand <= worker_threads and not views.failed,
        notes=[
            f"{INSTANCES} gunicorn instances x {WORKERS} gthread workers x {THREADS} threads;",
            f"{CONCURRENCY} keep-alive client threads; connections counted by the provider's",
            f"server ({options.provider_server}) as it accepts them.",
            *CLOSING_SERVER_NOTE.get(options.provider_server, []),
        ],
    )
