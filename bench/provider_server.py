"""HTTP servers for the demo provider during the benchmarks, each counting the TCP connections it
accepts. They stand in for `tests.live_provider.LiveServer` (same interface) inside the harness.

werkzeug's server, which the tests use, answers every request with `Connection: close`, so a
client behind it opens one connection per call however well it pools; a real provider keeps
connections alive. The default here is cheroot, a threaded server with HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import threading

from cheroot import wsgi

from tests.live_provider import LiveServer

JOIN_TIMEOUT = 10.0


class KeepAliveServer:
    """The provider on cheroot at a free port of 127.0.0.1, in a background thread."""

    def __init__(self, wsgi_app) -> None:
        # Idle connections wait in a selector, not a thread; threads bound the calls served at
        # once. Idle connections live for `timeout` seconds: longer than any pause in a benchmark.
        self.server = wsgi.Server(
            ("127.0.0.1", 0), wsgi_app, numthreads=16, request_queue_size=128, timeout=60
        )
        # cheroot closes keep-alive connections beyond this many (10 by default).
        self.server.keep_alive_conn_limit = None
        self.server.stats["Enabled"] = True
        self.server.prepare()
        self.url = f"http://127.0.0.1:{self.server.bind_addr[1]}"
        self.thread = threading.Thread(target=self.server.serve, daemon=True)

    @property
    def accepted(self) -> int:
        """TCP connections accepted so far."""
        return self.server.stats["Accepts"]

    def start(self) -> KeepAliveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(JOIN_TIMEOUT)


class ClosingServer(LiveServer):
    """The tests' werkzeug server (one connection per request), counting what it accepts."""

    def __init__(self, wsgi_app) -> None:
        super().__init__(wsgi_app)
        self.accepted = 0
        accept = self.server.get_request

        def counted_accept():
            accepted = accept()
            # Only the server's own thread accepts, so a plain counter is safe.
            self.accepted += 1
            return accepted

        self.server.get_request = counted_accept


SERVERS = {"cheroot": KeepAliveServer, "werkzeug": ClosingServer}
