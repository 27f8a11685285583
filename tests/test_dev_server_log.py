"""The development server's own start-up banner is written as it is, while a line about a request
stays one line whatever the request carried: log lines still cannot be forged.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_banner_is_intact_and_a_request_line_stays_one_line(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": "dev-server-log-test-" + Fernet.generate_key().decode(),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "DEMO_PROVIDER_ENABLED": "false",
        # Every secret given, so nothing is generated into the checkout's instance/ folder.
        "DEMO_CLIENT_SECRET": "dev-server-log-test",
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the development server did not start"
                time.sleep(0.1)
        forged = "%0d%0a2026-01-01 INFO admin signed in%0d%0a"
        requests.get(f"http://127.0.0.1:{port}/login?next=/{forged}", timeout=5)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)

    lines = errors.splitlines()
    assert f" * Running on http://127.0.0.1:{port}" in lines
    assert not any("\\n * Running on" in line for line in lines)
    assert not any(line.startswith("2026-01-01 INFO admin") for line in lines)
    assert any("GET /login?next=/" in line for line in lines)
