"""Installing the project prints no warning of its own packaging: no deprecated `license`
table, no editable-install notice (make installs the dependencies, not an editable package).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_building_the_project_warns_about_nothing(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    result = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "pip", "install", "--no-deps", "--dry-run", "-v", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    built = result.stdout + result.stderr
    assert "Preparing metadata (pyproject.toml): finished with status 'done'" in built
    assert "Deprecat" not in built
    assert "Editable installation" not in built
    assert "!!" not in built
