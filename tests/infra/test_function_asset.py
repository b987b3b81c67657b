"""The functions' code is an explicit allow-list of `ipaudit`: exactly what the handlers the
template names import (lazily too), so the asset is complete and carries nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

from cdk_harness import ROOT, Synth

from infra.scheduled_functions import FUNCTION_CODE

PACKAGE = ROOT / "lambda" / "ipaudit"
DATA = {"report.schema.json"}  # read by report.py at run time, not imported


def handler_modules(synth: Synth) -> set[str]:
    """`ipaudit.handler` for `ipaudit.handler.audit_handler`, for every function of either shape."""
    functions = [
        function
        for shape in ({}, {"fan_out": True})  # the single audit, and the fan-out's three steps
        for function in synth(**shape).auditor.find_resources("AWS::Lambda::Function").values()
    ]
    return {f["Properties"]["Handler"].rpartition(".")[0] for f in functions}


def source(module: str) -> Path | None:
    path = ROOT / "lambda" / Path(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def imported_closure(modules: set[str]) -> set[Path]:
    """Every `ipaudit` source file these modules import, at the top or inside functions."""
    files: set[Path] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        path = source(module)
        if path is None or path in files:
            continue
        files.add(path)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # the parent packages
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return {f for f in files if PACKAGE in f.parents or f == PACKAGE}


def allowed(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return any(covers(entry, relative) for entry in FUNCTION_CODE)


def covers(entry: str, relative: Path) -> bool:
    """Whether an allow-list entry (a file or a subpackage) holds this file."""
    return relative == Path(entry) or Path(entry) in relative.parents


def test_everything_the_handlers_import_is_in_the_asset(synth: Synth) -> None:
    needed = imported_closure(handler_modules(synth))
    assert PACKAGE / "handler.py" in needed
    missing = sorted(str(p.relative_to(PACKAGE)) for p in needed if not allowed(p))
    assert missing == [], "add to FUNCTION_CODE in infra/scheduled_functions.py"


def test_nothing_in_the_allow_list_goes_unused_by_the_handlers(synth: Synth) -> None:
    needed = {p.relative_to(PACKAGE) for p in imported_closure(handler_modules(synth))}
    unused = [
        entry
        for entry in FUNCTION_CODE
        if entry not in DATA and not any(covers(entry, n) for n in needed)
    ]
    assert unused == []


def test_the_cli_and_the_simulators_are_not_in_the_allow_list() -> None:
    for entry in FUNCTION_CODE:
        assert not entry.startswith(("cli", "__main__", "sim", "report_csv")), entry
