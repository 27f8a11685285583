"""`make run` as a workshop laptop runs it, in a fresh copy of the tree: on any port, with the
app, the embedded provider's issuer and its registered URIs following the port; and on a taken
port, a message that says which, what usually holds it, and what to run instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.forms import csrf_token, forms

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    """The files git tracks, copied with their times (so make sees its installed virtual
    environment as up to date), and that virtual environment linked in: a clone after
    `make install`, without paying for the install again."""
    clone = tmp_path_factory.mktemp("clone")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = clone / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            os.utime(target, (source.stat().st_atime, source.stat().st_mtime))
    (clone / ".venv").symlink_to(ROOT / ".venv")
    # Installed from this very pyproject.toml (make test installed it before running us): the
    # clone's copy must not look newer than that install.
    installed = (ROOT / ".venv" / ".installed").stat().st_mtime
    os.utime(clone / "pyproject.toml", (installed - 1, installed - 1))
    return clone


def make_run(clone: Path, port: int) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BASE_URL", "PORT"))}
    return subprocess.Popen(  # noqa: S603 (make, with our own arguments)
        ["make", "--no-print-directory", "run", f"PORT={port}", "RELOAD=0"],  # noqa: S607
        cwd=clone,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop(server: subprocess.Popen) -> tuple[str, str]:
    if server.poll() is None:
        os.killpg(server.pid, 15)
    return server.communicate(timeout=20)


def wait_until_serving(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, stop(server)
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"nothing served {url}")


def test_make_run_on_another_port_signs_in_end_to_end(fresh_clone):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = make_run(fresh_clone, port)
    try:
        wait_until_serving(base + "/healthz", server)
        browser = requests.Session()
        browser.trust_env = False
        page = browser.get(base + "/login", timeout=10).text
        assert "This page was opened at" not in page  # BASE_URL followed the port
        answer = browser.post(
            base + "/login/demo", data={"csrf_token": csrf_token(page)}, timeout=10
        )
        # At the embedded provider (its issuer followed the port too): sign in, then consent.
        assert answer.url.startswith(base + "/demo-provider/login")
        login = next(f for f in forms(answer.text, answer.url) if "password" in f.input_names)
        answer = browser.post(
            login.action,
            data={**login.fields, "username": "alice", "password": "wonderland"},
            timeout=10,
        )
        consent = next(f for f in forms(answer.text, answer.url) if f.buttons)
        answer = browser.post(consent.action, data=consent.submission("Allow"), timeout=10)
        assert answer.url == base + "/profile"
        assert "Alice Liddell" in answer.text
    finally:
        output, _ = stop(server)
    assert f"Open {base}/ in your browser." in output
    assert "alice / wonderland" in output


def test_make_run_on_a_taken_port_says_what_to_do(fresh_clone):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = make_run(fresh_clone, port)
        _, errors = server.communicate(timeout=START_TIMEOUT)
    assert server.returncode != 0
    assert f"Port {port} on 127.0.0.1 is already in use" in errors
    assert "make run PORT=8080" in errors
