"""A real deployment for tests and benchmarks, run by `deploy(...)`: a throwaway PostgreSQL
database, the demo provider live on 127.0.0.1 with its recorder (sending its back-channel logout
tokens to the deployment), gunicorn instances of the client sharing the database, and a browser
that signs in through their pages and signs out at the provider's. All stops on exit.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from demo_provider import backchannel, signing
from oauth import client_keys
from tests.e2e.live_demo import ProviderBrowser, serve_demo_provider
from tests.forms import csrf_token, forms
from tests.live_provider import LiveProvider

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL_VARIABLE = "TEST_DATABASE_URL"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}
# Generous, but every wait ends: the slowest legitimate step here takes a few seconds.
HTTP_TIMEOUT = 30.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
DEMO_CLIENT_ID = "reference-app"
CORP_CLIENT_ID = "corp-app"
# The tables `Deployment.count` may name (it puts the name into SQL).
COUNTED_TABLES = frozenset(
    {"users", "linked_accounts", "login_attempts", "user_sessions", "accepted_logout_tokens"}
)


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `server_url`; dropped on exit."""
    admin_url = make_url(server_url)
    name = f"signin_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE ends the sessions gunicorn workers may still hold.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (held together while chosen, so never the same)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Instance:
    """One gunicorn master with its workers, serving the client on its own port."""

    name: str
    port: int
    log_path: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the master in a process group of its own, its output appended to the log."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, deadline: float) -> None:
        """Return once /healthz answers 200; raise with the log's tail if it never does."""
        http = requests.Session()
        http.trust_env = False
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            try:
                if http.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not healthy in time:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The process ids of the master's workers (Linux /proc)."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        """End the master and its workers at once: SIGKILL to the whole group, so no worker
        outlives the test. How gunicorn shuts down is not what these tests look at, and its own
        shutdown takes most of a second."""
        process = self.process
        if process is None:
            return
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            content = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(content[-lines:])


@dataclass
class Deployment:
    """The running deployment and direct access to its database."""

    base_url: str
    instances: list[Instance]
    provider: LiveProvider
    corp: LiveProvider | None
    database_url: str
    engine: Engine
    settings: dict[str, str]
    client_secrets: dict[str, str] = field(default_factory=dict)
    _browsers: list[Browser] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [instance.url for instance in self.instances]

    def browser(self) -> Browser:
        browser = Browser(self)
        self._browsers.append(browser)
        return browser

    def restart(self, index: int, **settings: str) -> None:
        """Stop one instance and start it again with changed settings: a rolling deploy's step."""
        for browser in self._browsers:
            browser.drop_connections()
        instance = self.instances[index]
        instance.stop()
        instance.env = {**instance.env, **settings}
        instance.start()
        instance.wait_healthy(time.monotonic() + START_TIMEOUT)

    def run_cli(self, *args: str, instance: int = 0) -> subprocess.CompletedProcess:
        """Run `flask --app app <args>` with an instance's settings (maintenance commands)."""
        return subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.instances[instance].env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )

    def close_browsers(self) -> None:
        """Close the browsers' kept-alive connections."""
        while self._browsers:
            self._browsers.pop().close()

    def reset(self) -> None:
        """Forget every user, link and pending sign-in here, and every record and fault planted
        at the providers (the providers' own grants stay); close the browsers."""
        self.close_browsers()
        with self.engine.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            # CASCADE: rows of any other table that refers to these go too.
            connection.execute(text("TRUNCATE users, linked_accounts, login_attempts CASCADE"))
        for live in (self.provider, self.corp):
            if live is not None:
                live.recorder.clear()

    def expire_access_tokens(self, provider: str = "demo") -> int:
        """Make every stored access token of that provider expired; returns the rows changed."""
        with self.engine.begin() as connection:
            result = connection.execute(
                text(
                    "UPDATE linked_accounts SET expires_at = now() - interval '1 second' "
                    "WHERE provider = :provider"
                ),
                {"provider": provider},
            )
            return result.rowcount

    def link_row(self, provider: str = "demo") -> dict[str, Any] | None:
        """The one stored link to that provider, as raw column values, or None."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT * FROM linked_accounts WHERE provider = :provider"),
                {"provider": provider},
            ).all()
        if len(rows) > 1:
            raise AssertionError(f"{len(rows)} links to {provider}; expected at most one")
        return dict(rows[0]._mapping) if rows else None

    def session_rows(self) -> list[dict[str, Any]]:
        """Every signed-in session stored here, oldest first, as raw column values."""
        with self.engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM user_sessions ORDER BY id")).all()
        return [dict(row._mapping) for row in rows]

    def live(self, provider: str = "demo") -> LiveProvider:
        """The live provider the client knows by that name."""
        live = self.corp if provider == "corp" else self.provider
        if live is None:
            raise ValueError(f"no provider {provider} in this deployment")
        return live

    def wait_for_logout_deliveries(self, provider: str = "demo") -> None:
        """Return once every back-channel logout token the provider has started sending is
        delivered (they go from background threads, after its sign-out page has answered);
        TimeoutError after ten seconds. A delivery is over once the client has answered, and
        the client answers after committing, so its database is final by then."""
        backchannel.sender(self.live(provider).app).flush(timeout=10.0)

    def logout_token(self, subject: str, sid: str | None, provider: str = "demo") -> str:
        """A logout token for this deployment's client, made and signed with the provider's own
        key and code exactly as its sign-out sends one, but handed to the test instead."""
        live = self.live(provider)
        client_id = CORP_CLIENT_ID if provider == "corp" else DEMO_CLIENT_ID
        claims = backchannel.logout_token_claims(
            issuer=live.issuer, client_id=client_id, sub=subject, sid=sid
        )
        with live.app.app_context():
            return backchannel.encode_logout_token(claims, signing.current_key())

    def count(self, table: str) -> int:
        if table not in COUNTED_TABLES:
            raise ValueError(table)
        return self._scalar(f"SELECT count(*) FROM {table}")  # noqa: S608

    def connections_opened(self) -> int:
        """Connections opened to the deployment's database so far. PostgreSQL (14+) counts a
        connection when its first transaction ends, so the one asking is not counted yet."""
        return self._scalar(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )

    def open_transactions(self) -> int:
        """Connections to the deployment's database, other than the one asking, that are inside
        a transaction right now (running a statement or idle in one)."""
        return self._scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )

    def end_connections(self) -> int:
        """End every connection to the deployment's database but the asker's, as a database
        restart or failover would; how many were ended."""
        return self._scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    def _scalar(self, sql: str) -> Any:
        """The one value a query on the deployment's database answers."""
        with self.engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()

    def decrypt(self, ciphertext: bytes | None) -> str | None:
        """The plaintext of a stored token, with the deployment's keys."""
        if ciphertext is None:
            return None
        keys = {
            key
            for settings in (self.settings, *(instance.env for instance in self.instances))
            for key in settings["TOKEN_ENCRYPTION_KEYS"].split(",")
        }
        return MultiFernet([Fernet(key) for key in keys]).decrypt(bytes(ciphertext)).decode()

    def revoke_at_provider(self, token: str, hint: str = "refresh_token") -> int:
        """Revoke a token at the demo provider as this client would (RFC 7009); the status."""
        http = requests.Session()
        http.trust_env = False
        response = http.post(
            self.provider.issuer + "/revoke",
            data={"token": token, "token_type_hint": hint},
            auth=(DEMO_CLIENT_ID, self.client_secrets["demo"]),
            timeout=HTTP_TIMEOUT,
        )
        return response.status_code

    def log_tails(self, lines: int = 40) -> dict[str, str]:
        return {f"{i.name} ({i.url})": i.log_tail(lines) for i in self.instances}


class Browser:
    """A person's browser: one cookie jar for every client instance (they share SECRET_KEY, so
    the session cookie is good on each) and one browser per provider for its pages."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.http = requests.Session()
        self.http.trust_env = False
        self._provider_browsers: dict[str, ProviderBrowser] = {}

    def get(self, path: str, instance: int = 0) -> requests.Response:
        url = self.deployment.instances[instance].url + path
        return self.http.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)

    def submit(
        self, page_path: str, action_path: str, data: dict | None = None, instance: int = 0
    ) -> requests.Response:
        """Post a form of the page at `page_path`, with the page's CSRF token."""
        page = self.get(page_path, instance)
        form = {"csrf_token": csrf_token(page.text), **(data or {})}
        url = self.deployment.instances[instance].url + action_path
        return self.http.post(url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT)

    def submit_together(
        self, page_path: str, actions: list[tuple[str, dict, int]]
    ) -> list[requests.Response]:
        """Post several forms of the page at once, as two tabs or a double click do: each
        `(action_path, data, instance)` from its own connection, all released together."""
        token = csrf_token(self.get(page_path).text)
        cookies = self.cookies()
        barrier = threading.Barrier(len(actions), timeout=HTTP_TIMEOUT)

        def post(action: tuple[str, dict, int]) -> requests.Response:
            path, data, instance = action
            http = requests.Session()
            http.trust_env = False
            try:
                barrier.wait()
                return http.post(
                    self.deployment.instances[instance].url + path,
                    data={"csrf_token": token, **data},
                    cookies=cookies,
                    allow_redirects=False,
                    timeout=HTTP_TIMEOUT,
                )
            finally:
                http.close()

        with ThreadPoolExecutor(max_workers=len(actions)) as pool:
            return list(pool.map(post, actions))

    def sign_in(self, username: str = "alice", provider: str = "demo") -> requests.Response:
        """Click "Sign in with ..." on instance A, sign in at the provider, come back; returns
        the client's answer to the callback."""
        started = self.submit("/login", f"/login/{provider}")
        return self._authorize_and_return(started, username, provider)

    def callback_url(self, username: str = "alice", provider: str = "demo") -> str:
        """Start a sign-in and authorize it at the provider; the callback URL it sends back to,
        not yet opened."""
        started = self.submit("/login", f"/login/{provider}")
        return self._authorize(started, username, provider)

    def link(self, provider: str, username: str = "alice") -> requests.Response:
        """Link another provider from the profile page; returns the answer to the callback."""
        started = self.submit("/profile", f"/profile/link/{provider}")
        return self._authorize_and_return(started, username, provider)

    def _authorize_and_return(
        self, started: requests.Response, username: str, provider: str
    ) -> requests.Response:
        callback_url = self._authorize(started, username, provider)
        return self.http.get(callback_url, allow_redirects=False, timeout=HTTP_TIMEOUT)

    def _authorize(self, started: requests.Response, username: str, provider: str) -> str:
        if started.status_code != 303:
            raise AssertionError(f"sign-in did not start: {started.status_code} {started.text}")
        authorization_url = started.headers["Location"]
        live = self.deployment.corp if provider == "corp" else self.deployment.provider
        browser = self._provider_browsers.setdefault(provider, ProviderBrowser(live.issuer))
        callback_url = browser.authorize(authorization_url, username, PASSWORDS[username])
        expected = f"{self.deployment.base_url}/callback/{provider}?"
        if not callback_url.startswith(expected):
            raise AssertionError(f"the provider sent the browser to {callback_url}")
        return callback_url

    def sign_out_at_provider(self, provider: str = "demo") -> requests.Response:
        """Press "Sign out" on the provider's home page, in the provider session this browser
        signed in with; returns the provider's answer. The provider then tells the client over
        the back channel: see `Deployment.wait_for_logout_deliveries`."""
        browser = self._provider_browsers.get(provider)
        if browser is None:
            raise AssertionError(f"this browser never signed in at {provider}")
        home = browser.http.get(browser.issuer + "/", timeout=HTTP_TIMEOUT)
        sign_out = next(
            (form for form in forms(home.text, home.url) if form.action.endswith("/logout")),
            None,
        )
        if sign_out is None:
            raise AssertionError(f"no sign-out form at {home.url}: {home.status_code}")
        return browser.http.post(
            sign_out.action,
            data=sign_out.submission("Sign out"),
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )

    def cookies(self) -> dict[str, str]:
        return self.http.cookies.get_dict()

    def drop_connections(self) -> None:
        """Forget kept-alive connections (the cookies stay)."""
        self.http.close()

    def close(self) -> None:
        self.http.close()
        for browser in self._provider_browsers.values():
            browser.http.close()

    def storm(self, count: int, path: str = "/profile") -> list[requests.Response]:
        """`count` GETs at once with this browser's cookies, round-robin over the instances;
        each thread opens its own connection and they all start together."""
        return concurrent_gets(
            [self.deployment.urls[i % len(self.deployment.urls)] + path for i in range(count)],
            self.cookies(),
        )


def concurrent_gets(urls: list[str], cookies: dict[str, str]) -> list[requests.Response]:
    """GET every URL from its own thread, all released at once by a barrier; in order."""
    return _all_at_once("GET", urls, cookies=cookies)


def concurrent_posts(urls: list[str], data: dict[str, str]) -> list[requests.Response]:
    """POST the same form to every URL from its own thread, all released at once, with no
    cookie (as one server calls another); in order."""
    return _all_at_once("POST", urls, data=data)


def _all_at_once(method: str, urls: list[str], **options: Any) -> list[requests.Response]:
    """Send one request per URL, each from its own thread and connection, released together by
    a barrier so that they reach the servers at the same moment; the answers in order."""
    barrier = threading.Barrier(len(urls), timeout=HTTP_TIMEOUT)

    def send(url: str) -> requests.Response:
        http = requests.Session()
        http.trust_env = False
        try:
            barrier.wait()
            return http.request(method, url, allow_redirects=False, timeout=HTTP_TIMEOUT, **options)
        finally:
            http.close()

    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(send, urls, timeout=2 * HTTP_TIMEOUT))


def _stop_all(instances: list[Instance]) -> None:
    """Stop every instance (their database sessions end with the database's DROP ... FORCE)."""
    for instance in instances:
        instance.stop()


def _client_registration(client_id: str, secret: str, redirect_uri: str, scope: str) -> dict:
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [redirect_uri],
        "client_name": "Flask Sign-in Reference App",
        "scope": scope,
    }


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    """The checked-in gunicorn configuration, bound to `port`, with the given concurrency."""
    return [
        *(sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"),
        *("--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"),
        *("--workers", str(workers), "--threads", str(threads)),
        # gunicorn's control socket is one path per user by default, which instances running
        # side by side (and other test processes' deployments) would fight over; none is used.
        "--no-control-socket",
    ]


@contextmanager
def deploy(
    workdir: Path,
    server_url: str,
    *,
    instances: int = 2,
    workers: int = 3,
    threads: int = 4,
    with_corp: bool = False,
    env: dict[str, str] | None = None,
    command: Callable[[int, int, int], list[str]] = gunicorn_command,
) -> Iterator[Deployment]:
    """Run the deployment until the block ends, then stop every process and drop the database.

    `server_url` is any database URL on the PostgreSQL server to use (TEST_DATABASE_URL);
    `with_corp` adds a second issuer configured as the generic OpenID Connect provider "corp";
    `env` adds or overrides the instances' settings.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(server_url))
        ports = free_ports(instances)
        # One public address for all instances: redirect URIs come from configuration, and the
        # provider knows only this one. Any instance can finish a sign-in (shared database).
        base_url = f"http://127.0.0.1:{ports[0]}"
        client_secrets = {"demo": secrets.token_hex(16), "corp": secrets.token_hex(16)}

        # Registered with the redirect URI on that address, the client is also registered (by
        # serve_demo_provider) to receive back-channel logout tokens there: one URI per client,
        # and whichever instance receives a token ends the sessions for all (shared database).
        provider, server = serve_demo_provider(
            str(workdir / "demo-provider"),
            [
                _client_registration(
                    DEMO_CLIENT_ID,
                    client_secrets["demo"],
                    f"{base_url}/callback/demo",
                    "openid profile email offline_access",
                )
            ],
        )
        stack.callback(server.stop)
        corp = None
        if with_corp:
            corp, corp_server = serve_demo_provider(
                str(workdir / "corp-issuer"),
                [
                    _client_registration(
                        CORP_CLIENT_ID,
                        client_secrets["corp"],
                        f"{base_url}/callback/corp",
                        "openid profile email",
                    )
                ],
            )
            stack.callback(corp_server.stop)
        for live in (provider, corp):
            # ProviderBrowser tells the provider's pages from the client's by URL prefix.
            if live is not None and base_url.startswith(live.issuer):
                raise RuntimeError(f"port clash: {base_url} starts with {live.issuer}")

        settings = {
            "APP_ENV": "development",
            "BASE_URL": base_url,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            # Set, so that no instance generates one into the checkout's instance/ folder.
            "CLIENT_SIGNING_KEYS": client_keys.generate(),
            "DEMO_PROVIDER_ENABLED": "true",
            "DEMO_PROVIDER_EMBEDDED": "false",
            "DEMO_ISSUER": provider.issuer,
            "DEMO_CLIENT_ID": DEMO_CLIENT_ID,
            "DEMO_CLIENT_SECRET": client_secrets["demo"],
            "OIDC_PROVIDERS": "",
            "RUN_MIGRATIONS": "1",
        }
        if corp is not None:
            settings.update(
                OIDC_PROVIDERS="corp",
                CORP_ISSUER=corp.issuer,
                CORP_CLIENT_ID=CORP_CLIENT_ID,
                CORP_CLIENT_SECRET=client_secrets["corp"],
                CORP_TITLE="Corp SSO",
            )
        settings.update(env or {})
        # Only what the app needs: no proxy variables, no stray provider settings from outside.
        process_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PYTHONUNBUFFERED": "1",
            **settings,
        }

        running: list[Instance] = []
        stack.callback(_stop_all, running)
        for index, port in enumerate(ports):
            letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[index]
            instance = Instance(
                name=f"instance-{letter}",
                port=port,
                log_path=workdir / f"gunicorn-{letter}.log",
                command=command(port, workers, threads),
                env=dict(process_env),
            )
            # Started together on purpose: their migrations race, as in a real rollout.
            instance.start()
            running.append(instance)
        deadline = time.monotonic() + START_TIMEOUT
        for instance in running:
            instance.wait_healthy(deadline)

        engine = create_engine(database_url, poolclass=NullPool)
        stack.callback(engine.dispose)
        deployment = Deployment(
            base_url=base_url,
            instances=running,
            provider=provider,
            corp=corp,
            database_url=database_url,
            engine=engine,
            settings=settings,
            client_secrets=client_secrets,
        )
        stack.callback(deployment.close_browsers)
        yield deployment
