"""The demo provider served over real HTTP on 127.0.0.1 for the tests, with a recorder of every
request it receives, a switch to make an endpoint fail and a hook to rewrite what an endpoint
answers, all kept here in test code only.
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

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.forms import forms


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    authorization: str | None


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

    def __init__(self, wsgi_app) -> None:
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ProviderBrowser:
    """A person at the provider's pages: follows its redirects, signs in, answers consent.

    Stops at the first redirect that leaves the provider (back to the client) and returns it.
    """

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = requests.Session()
        self.http.trust_env = False

    def authorize(
        self,
        url: str,
        username: str = "alice",
        password: str = "wonderland",
        decision: str = "Allow",
    ) -> str:
        response = self.http.get(url, allow_redirects=False, timeout=10)
        for _ in range(10):
            if response.is_redirect:
                location = requests.compat.urljoin(response.url, response.headers["Location"])
                if _origin(location) != _origin(self.issuer):
                    return location
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            page_forms = forms(response.text, response.url)
            login = next((f for f in page_forms if "password" in f.input_names), None)
            if login is not None:
                data = {**login.fields, "username": username, "password": password}
                response = self.http.post(
                    login.action, data=data, allow_redirects=False, timeout=10
                )
                continue
            consent = next(
                (f for f in page_forms if any(decision.lower() in b[2].lower() for b in f.buttons)),
                None,
            )
            if consent is None:
                raise AssertionError(
                    f"stuck at provider page {response.url}: {response.status_code}"
                )
            response = self.http.post(
                consent.action, data=consent.submission(decision), allow_redirects=False, timeout=10
            )
        raise AssertionError("too many steps at the provider")


def _origin(url: str) -> tuple[str, str]:
    """Scheme and host:port, compared whole (port 4123 must not match port 41234)."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def query(url: str) -> dict[str, str]:
    """The single-valued query parameters of a URL."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
