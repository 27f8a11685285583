"""Database statements per profile view of a deployed subject (bench/subjects.py), counted in this
process: the subject's app built from instance A's environment (the same database, provider and
secret key), the signed-in browser's cookie and User-Agent replayed through Flask's test client,
and bench/queries.py's SQLAlchemy engine events counting what each view sends.
"""

from __future__ import annotations

import os
from unittest import mock

from bench import queries, site
from bench.subjects import Subject
from tests.e2e.deployment import Browser, Deployment

WARMUP_VIEWS = 3


def per_view(
    subject: Subject, deployment: Deployment, browser: Browser, views: int
) -> queries.Views:
    """The statements, pings and transactions of each of `views` profile views, after a few
    uncounted ones (discovery documents fetched, pools filled)."""
    headers = site.profile_targets(deployment, browser)[0].headers
    # Settings are read from the environment while the app is built, and oauthlib reads
    # OAUTHLIB_INSECURE_TRANSPORT at every call: the instance's environment, for the whole count.
    with mock.patch.dict(os.environ, deployment.instances[0].env):
        flask_app = subject.build()
        with flask_app.app_context():
            engine = flask_app.extensions["sqlalchemy"].engine
        # The cookie is sent as the load generator sends it, whatever the answers set.
        client = flask_app.test_client(use_cookies=False)

        def view() -> None:
            page = client.get("/profile", base_url=deployment.base_url, headers=headers)
            if site.LIVE_PROFILE_TEXT not in page.get_data(as_text=True):
                raise RuntimeError(f"{subject.key}: the profile is not live: {page.status_code}")

        try:
            for _ in range(WARMUP_VIEWS):
                view()
            counted = []
            with queries.counting(engine) as counts:
                for _ in range(views):
                    view()
                    counted.append(counts.take())
        finally:
            engine.dispose()
    return queries.Views(counted)
