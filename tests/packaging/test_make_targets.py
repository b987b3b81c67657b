"""What each make target asks of a fresh machine: `make demo` needs Python only, never Node.js;
`make test` still installs the npm tools its infrastructure tests run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
# The files the Makefile's stamps depend on, copied so make can reason about a fresh clone.
INPUTS = ("Makefile", "requirements.txt", "lambda/requirements.txt", "pyproject.toml")
NODE_INPUTS = ("package.json", "package-lock.json")


def dry_run(target: str, clone: Path) -> str:
    """What `make TARGET` would run on a fresh clone (-n: print, run nothing; -B: all stale)."""
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "-n", "-B", target], cwd=clone, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for name in (*INPUTS, *NODE_INPUTS):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.mark.skipif(MAKE is None, reason="make is not installed on this machine")
def test_make_demo_installs_python_only_and_runs_the_demo(clone: Path) -> None:
    commands = dry_run("demo", clone)

    assert "pip install" in commands
    assert ".venv/bin/ipaudit demo" in commands
    assert "npm" not in commands
    # The runtime's pins and the demo extra, never the development tools (CDK, mypy, ...).
    assert "-r lambda/requirements.txt -e '.[demo]'" in commands
    assert "-r requirements.txt" not in commands
    assert "apt-get" not in commands


@pytest.mark.skipif(MAKE is None, reason="make is not installed on this machine")
def test_make_test_still_installs_the_npm_tools(clone: Path) -> None:
    assert "npm ci" in dry_run("test", clone)
