"""`pip install` from the repository, as a new user does it: a fresh virtual environment, no
editable install, nothing of the development environment; the CLI must work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a fresh clone has: everything but the development environment's and tools' output.
_NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "cdk.out", ".cache", "build", "*.egg-info",
    "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
)  # fmt: skip


def _clean_env() -> dict[str, str]:
    """The machine's environment (pip's own settings and cache included), minus this run's
    virtual environment and anything pointing Python or AWS somewhere."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
        and not k.startswith(("AWS_", "IPAUDIT_"))
    }


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The `bin/` of a fresh virtual environment holding `pip install <clone>`."""
    work = tmp_path_factory.mktemp("install")
    clone = work / "ipaudit"
    shutil.copytree(ROOT, clone, ignore=_NOT_IN_A_CLONE)
    venv = work / "venv"
    created = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    assert created.returncode == 0, created.stderr
    # This run's pip installs into the new environment (`--python`), from the registries and
    # the local cache; the lock as constraints keeps the versions the bundle ships.
    result = _run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
        "--quiet", "--no-compile", "--constraint", clone / "lambda" / "requirements.txt",
        clone,
        cwd=work,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    yield venv / "bin"


def test_the_installed_cli_shows_its_help(installed: Path) -> None:
    result = _run(installed / "ipaudit", "--help", cwd=installed)
    assert result.returncode == 0, result.stderr
    assert "usage: ipaudit" in result.stdout
    for command in ("audit", "demo", "simulate", "max-pods", "digest", "init-table"):
        assert command in result.stdout


def test_the_installed_cli_reports_the_projects_version(installed: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = _run(installed / "ipaudit", "--version", cwd=installed)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ipaudit {version}\n"


def test_the_installed_cli_simulates_the_articles_node(installed: Path) -> None:
    result = _run(installed / "ipaudit", "simulate", ROOT / "examples" / "article-node.json",
                  cwd=installed)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # 100 pods then 10: the node keeps 150 addresses (the article's story).
    steps = [line.split() for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [(s[1], s[7]) for s in steps] == [("100", "150"), ("10", "150")]


def test_the_plain_install_brings_the_runtime_and_nothing_of_the_demo_or_development(
    installed: Path,
) -> None:
    site = next((installed.parent / "lib").glob("python3.*/site-packages"))
    present = {p.name for p in site.iterdir()}
    assert {"ipaudit", "boto3", "kubernetes", "aws_lambda_powertools", "requests"} <= present
    assert not {"moto", "flask", "pytest", "aws_cdk", "ruff"} & present


def test_the_demo_needs_the_demo_extra_and_runs_with_it(installed: Path) -> None:
    work = installed.parent.parent
    result = _run(installed / "ipaudit", "demo", cwd=work)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "ipaudit: error: the demo needs moto's server, which the demo extra installs: "
        "pip install 'ipaudit[demo]' (from a clone: pip install '.[demo]', or make demo)"
    ]

    added = _run(
        sys.executable, "-m", "pip", "--python", installed / "python", "install", "--quiet",
        "--no-compile", "--constraint", work / "ipaudit" / "lambda" / "requirements.txt",
        f"{work / 'ipaudit'}[demo]",
        cwd=work,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    digest = work / "digest.html"
    result = _run(installed / "ipaudit", "demo", "--json", "--digest-html", digest, cwd=work)
    assert result.returncode == 0, result.stderr
    [prod] = [c for c in json.loads(result.stdout)["clusters"] if c["name"] == "shop-prod"]
    assert sorted(s["free"] for s in prod["subnets"]) == [0, 0, 109]  # the article's story
    assert "<table" in digest.read_text()


def test_the_reports_json_schema_ships_with_the_package(installed: Path) -> None:
    code = "from ipaudit.report import json_schema; print(json_schema()['title'])"
    result = _run(installed / "python", "-c", code, cwd=installed)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ipaudit report\n"
