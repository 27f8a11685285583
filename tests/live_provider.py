"""A provider served over real HTTP on 127.0.0.1 for the tests (the fake one for the client's
tests, the demo one end to end), with a recorder of every request it receives, a switch to make an
endpoint fail and a hook to rewrite what an endpoint answers, all kept here in test code only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class LiveProvider:
    """A provider live on 127.0.0.1: its issuer URL, the recorder in front of it, its WSGI app,
    and its private ID token signing key when the tests may sign with it (the fake's)."""

    issuer: str
    recorder: Recorder | None
    app: Any
    signing_key: RSAKey | None = None
    #: The fake provider itself, for tests that switch its behaviour (a DPoP nonce, say).
    fake: Any = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    authorization: str | None
    #: The DPoP proof header, when the request carried one.
    dpop: str | None = None


@dataclass
class Fault:
    status: int
    #: A dict is sent as JSON; a str as an HTML page (a gateway's error page, say).
    body: dict | str = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    remaining: int = 1
    #: Seconds to wait before answering: a provider that hangs.
    delay: float = 0.0


@dataclass
class Rewrite:
    #: Receives the provider's JSON answer (None if it was not JSON) and returns what to send
    #: instead: JSON-able data, or a whole werkzeug Response.
    change: Callable[[Any], Any]
    #: How many more answers to rewrite; None for every one until `clear()`.
    remaining: int | None = 1


class Recorder:
    """WSGI middleware: records requests, answers with planted faults, rewrites answers."""

    def __init__(self, app=None) -> None:
        self.app = app
        self.requests: list[Recorded] = []
        self.faults: dict[str, Fault] = {}
        self.rewrites: dict[str, Rewrite] = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(cache=True)
        environ["wsgi.input"] = BytesIO(body)
        path = request.path
        with self._lock:
            self.requests.append(
                Recorded(
                    method=request.method,
                    path=path,
                    query=parse_qs(request.query_string.decode()),
                    form=parse_qs(body.decode("latin1")) if request.method == "POST" else {},
                    authorization=request.headers.get("Authorization"),
                    dpop=request.headers.get("DPoP"),
                )
            )
            fault = self.faults.get(path)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self.faults[path]
            rewrite = self.rewrites.get(path) if fault is None else None
            if rewrite is not None and rewrite.remaining is not None:
                rewrite.remaining -= 1
                if rewrite.remaining <= 0:
                    del self.rewrites[path]
        if fault is not None:
            time.sleep(fault.delay)
            html = isinstance(fault.body, str)
            response = Response(
                fault.body if html else json.dumps(fault.body),
                status=fault.status,
                mimetype="text/html" if html else "application/json",
                headers=fault.headers,
            )
            return response(environ, start_response)
        if rewrite is not None:
            return self._rewritten(rewrite, environ)(environ, start_response)
        return self.app(environ, start_response)

    def _rewritten(self, rewrite: Rewrite, environ) -> Response:
        """The provider's real answer, passed through `rewrite.change`."""
        original = Response.from_app(self.app, environ, buffered=True)
        replacement = rewrite.change(original.get_json(silent=True))
        if isinstance(replacement, Response):
            return replacement
        return Response(
            json.dumps(replacement),
            status=original.status_code,
            mimetype="application/json",
            headers={"Cache-Control": original.headers.get("Cache-Control", "no-store")},
        )

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.rewrites.clear()

    def calls(self, path: str, method: str | None = None) -> list[Recorded]:
        return [
            r for r in self.requests if r.path == path and (method is None or r.method == method)
        ]

    def token_requests(self, grant_type: str) -> list[Recorded]:
        return [r for r in self.calls("/token", "POST") if r.form.get("grant_type") == [grant_type]]

    def fail(
        self,
        path: str,
        status: int,
        body: dict | str | None = None,
        times: int = 1,
        headers=None,
        delay: float = 0.0,
    ):
        """Answer the next `times` requests to `path` with this status instead of the provider,
        after `delay` seconds."""
        self.faults[path] = Fault(status, body or {}, headers or {}, times, delay)

    def rewrite(self, path: str, change: Callable[[Any], Any], times: int | None = 1) -> None:
        """Pass the provider's next `times` answers to `path` through `change` (None: all)."""
        with self._lock:
            self.rewrites[path] = Rewrite(change, times)


class LiveServer:
    """A threaded WSGI server on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, wsgi_app=None) -> None:
        # Without an app yet: one whose settings need this server's URL is given to start().
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval: stop() waits for the loop to notice, and servers made per
        # module or per test would otherwise add half a second each.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self, wsgi_app=None) -> LiveServer:
        if wsgi_app is not None:
            self.server.app = wsgi_app
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def query(url: str) -> dict[str, str]:
    """The single-valued query parameters of a URL."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
