"""The flow inspector is a plug-in: the client works without it (its name out of `app.PLUGINS`,
its folder deleted too), no code outside `inspector/` imports it, and without it nobody listens to
the signals the engine and the account layer send.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask_migrate import upgrade

import accounts.signals
import app as app_factory
import oauth.signals
from inspector import listeners
from tests.conftest import client_config
from tests.forms import csrf_token

PROJECT = Path(__file__).resolve().parent.parent
# The client's own code, which must not know the inspector exists (app.py's PLUGINS line aside).
CLIENT_PACKAGES = ("oauth", "providers", "accounts", "blueprints", "ops", "demo_provider")
CLIENT_MODULES = ("config.py", "extensions.py", "models.py", "gunicorn.conf.py")
SIGNALS = (*oauth.signals.namespace.values(), *accounts.signals.namespace.values())


@pytest.fixture
def app(tmp_path, provider, monkeypatch):
    """The client as `create_app` builds it once "inspector" is taken out of its plug-ins."""
    monkeypatch.setattr(app_factory, "PLUGINS", ())
    app = app_factory.create_app(client_config(tmp_path, provider.issuer))
    with app.app_context():
        upgrade()
    return app


def test_sign_in_profile_refresh_and_sign_out_work_without_the_inspector(flow, client):
    assert client.get("/login").status_code == 200
    assert flow.sign_in("alice").status_code == 303

    profile = client.get("/profile")
    page = profile.get_data(as_text=True)
    assert profile.status_code == 200
    assert "Alice Liddell" in page
    assert "/inspector" not in page
    assert "flow inspector" not in page
    refreshed = client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)})
    assert refreshed.status_code == 303
    page = client.get("/profile").get_data(as_text=True)
    assert "access token was refreshed" in page

    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 303
    assert client.get("/profile").status_code == 302
    assert client.get("/inspector").status_code == 404


def test_without_the_inspector_nobody_listens_so_nothing_is_built_for_it(
    app, tmp_path, provider, monkeypatch
):
    monkeypatch.setattr(app_factory, "PLUGINS", ("inspector",))
    (tmp_path / "with").mkdir()
    with_inspector = app_factory.create_app(client_config(tmp_path / "with", provider.issuer))

    assert [signal.name for signal in SIGNALS if signal.has_receivers_for(app)] == []
    assert [s.name for s in SIGNALS if not s.has_receivers_for(with_inspector)] == []
    assert {receiver for _, receiver in listeners.RECEIVERS} == {
        receiver for signal in SIGNALS for receiver in signal.receivers_for(with_inspector)
    }


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def client_sources() -> list[Path]:
    files = [PROJECT / name for name in CLIENT_MODULES if (PROJECT / name).exists()]
    for package in CLIENT_PACKAGES:
        files += sorted((PROJECT / package).rglob("*.py"))
    return files


def test_no_client_module_imports_the_inspector():
    importers = [
        str(path.relative_to(PROJECT))
        for path in client_sources()
        if any(
            name == "inspector" or name.startswith(("inspector.", "flow_trace"))
            for name in imported_modules(path)
        )
    ]
    assert len(client_sources()) > 40
    assert importers == []


def test_app_py_names_the_inspector_in_one_line_only():
    source = (PROJECT / "app.py").read_text(encoding="utf-8")
    uses = [
        line.strip()
        for line in source.splitlines()
        if "inspector" in line and not line.strip().startswith("#")
    ]
    assert len(uses) == 1, uses


def test_no_client_template_links_to_the_inspector_by_endpoint():
    templates = sorted((PROJECT / "templates").rglob("*.html"))
    assert templates
    linking = [
        str(path.relative_to(PROJECT))
        for path in templates
        if re.search(r"""url_for\(\s*['"]inspector\.""", path.read_text(encoding="utf-8"))
    ]
    assert linking == []


# Run in a copy of the project without inspector/ (nor bench/, docs/, caches), whose app.py names
# no plug-in: a person signs in, sees the profile, refreshes and signs out.
WITHOUT_THE_INSPECTOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from flask_migrate import upgrade

    from app import create_app
    from tests.conftest import Flow, LiveProvider, client_config
    from tests.forms import csrf_token

    issuer, workdir = sys.argv[1], Path(sys.argv[2])
    app = create_app(client_config(workdir, issuer), instance_path=str(workdir / "instance"))
    with app.app_context():
        upgrade()
    assert "inspector" not in app.blueprints
    client = app.test_client()
    flow = Flow(client, LiveProvider(issuer=issuer, recorder=None, app=None))
    answers = [client.get("/login").status_code, flow.sign_in("alice").status_code]
    page = client.get("/profile").get_data(as_text=True)
    assert "Alice Liddell" in page and "/inspector" not in page, page
    answers.append(
        client.post("/profile/refresh/demo", data={"csrf_token": csrf_token(page)}).status_code
    )
    page = client.get("/profile").get_data(as_text=True)
    answers.append(client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code)
    answers.append(client.get("/inspector").status_code)
    assert answers == [200, 303, 303, 303, 404], answers
    loaded = [name for name in sys.modules if name.split(".")[0] == "inspector"]
    assert loaded == [], loaded
    print("served without the inspector")
    """
)


def test_the_client_runs_with_the_inspector_folder_deleted(tmp_path, provider):
    copy = tmp_path / "project"
    shutil.copytree(
        PROJECT,
        copy,
        ignore=shutil.ignore_patterns(
            ".*", "__pycache__", "*.egg-info", "instance", "inspector", "bench", "docs", "browser"
        ),
    )
    app_py = copy / "app.py"
    source = app_py.read_text(encoding="utf-8")
    trimmed, removed = re.subn(r'(?m)^PLUGINS = \("inspector",\)$', "PLUGINS = ()", source)
    assert removed == 1
    app_py.write_text(trimmed, encoding="utf-8")
    assert not (copy / "inspector").exists()

    workdir = tmp_path / "work"
    workdir.mkdir()
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", WITHOUT_THE_INSPECTOR, provider.issuer, str(workdir)],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy), "APP_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "served without the inspector" in result.stdout
