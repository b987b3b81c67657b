"""The layering docs/design.md promises: the model and the analysis are pure (no AWS, Kubernetes
or HTTP client inside), and the function's code never reaches for the simulators."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambda" / "ipaudit"
PURE = [
    "snapshot.py",
    "report.py",
    "report_codec.py",
    "finding_kinds.py",
    "alert_rules.py",
    "stale_scopes.py",
    "render",
    "errors.py",
    "timestamps.py",
    "words.py",
    "gc_pause.py",
    "cni",
    "capacity",
    "analysis",
    "recommend",
    "forecast",
    "alerts",
    "digest/week.py",
    "audit/assemble.py",
]
CLIENTS = ("boto3", "botocore", "kubernetes", "requests", "urllib3", "moto")


def modules(relative: str) -> list[Path]:
    path = PACKAGE / relative
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def imported(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", [m for r in PURE for m in modules(r)], ids=str)
def test_pure_modules_import_no_client(module: Path) -> None:
    clients = {n for n in imported(module) if n.split(".")[0] in CLIENTS}
    assert not clients, f"{module.relative_to(PACKAGE)} imports {sorted(clients)}"


def test_only_the_demo_command_imports_the_simulators() -> None:
    importers = {
        str(m.relative_to(PACKAGE))
        for m in PACKAGE.rglob("*.py")
        if m.parent.name != "sim" and any(n.startswith("ipaudit_sim") for n in imported(m))
    }
    assert importers == {"cli/demo.py"}


# The pure packages, bottom up: each imports only from its own layer or the ones below. The
# contracts (snapshot, report, errors) are below them all; analysis and the recommender are
# peers that both ask the capacity model, which asks the CNI model.
LAYERS = [
    {"snapshot", "report", "errors", "timestamps", "words", "gc_pause"},
    {"cni"},
    {"capacity"},
    {"analysis", "recommend", "forecast"},
]


def _layer(name: str) -> int | None:
    top = name.split(".")[1] if name.startswith("ipaudit.") else None
    return next((i for i, layer in enumerate(LAYERS) if top in layer), None)


@pytest.mark.parametrize(
    "module",
    [
        m
        for layer in LAYERS
        for package in layer
        for m in modules(package)
        if (PACKAGE / package).is_dir()
    ],
    ids=str,
)
def test_pure_packages_import_only_downwards(module: Path) -> None:
    own = _layer("ipaudit." + module.relative_to(PACKAGE).parts[0])
    assert own is not None
    above = {n for n in imported(module) if (_layer(n) or -1) > own}
    assert not above, f"{module.relative_to(PACKAGE)} imports {sorted(above)} from above"


SERVERS = (
    "moto_server",
    "aws: boto3.Session",
    "httpserver",
    "subprocess",
    "HTTPServer",
    "KubeApiServer",
)


def test_unit_tests_start_no_server_and_no_process() -> None:
    """tests/README.md: the unit suite is pure logic; servers belong to tests/integration."""
    unit = PACKAGE.parents[1] / "tests" / "unit"
    starting = sorted(
        str(path.relative_to(unit))
        for path in unit.rglob("*.py")
        if path.name != "test_layers.py" and any(name in path.read_text() for name in SERVERS)
    )
    assert starting == []
