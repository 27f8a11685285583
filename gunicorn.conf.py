"""gunicorn settings for production: threaded workers, timeouts, an access log without query
strings, and database migrations applied once, before the workers start.

Run: `gunicorn` (this file is read from the working directory). Tune with WEB_CONCURRENCY,
GUNICORN_THREADS, BIND and RUN_MIGRATIONS.
"""

import os

wsgi_app = "app:create_app()"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads: a profile view mostly waits on the provider's API, so one worker serves many at once.
# They also let the embedded demo provider answer the app's own token request, if it is enabled.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Longer than the slowest outbound call (connect + read timeouts), so a stuck provider cannot
# get a worker killed mid-request.
timeout = 30
graceful_timeout = 30
keepalive = 5
accesslog = "-"
# %(U)s is the path without the query string: a callback URL's code and state never reach the log.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


def on_starting(server) -> None:
    """Apply migrations in the master process, before any worker serves a request."""
    if os.environ.get("RUN_MIGRATIONS", "1") == "0":
        return
    from flask_migrate import upgrade

    from app import create_app

    with create_app().app_context():
        upgrade()
