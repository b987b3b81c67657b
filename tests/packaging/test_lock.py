"""The function's runtime is locked: lambda/requirements.txt (written by `make lock`) pins every
package the bundle installs, for the Lambda runtime's Python, within pyproject.toml's ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from infra.scheduled_functions import RUNTIME_PYTHON_VERSION

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "lambda" / "requirements.txt"


def locked() -> dict[str, Version]:
    """Package -> pinned version, from the lock's requirement lines."""
    pins: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line!r} is not an exact pin"
        pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def test_every_package_of_the_bundle_is_pinned_exactly() -> None:
    pins = locked()
    assert len(pins) > len(declared())  # the dependencies' dependencies are pinned too


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_the_lock_satisfies_each_declared_dependency(requirement: Requirement) -> None:
    # A dependency added or re-ranged in pyproject.toml without `make lock` fails here.
    pinned = locked().get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is not in {LOCK.name}: run `make lock`"
    assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned}: `make lock`"


def test_the_lock_holds_no_demo_or_development_package() -> None:
    assert not {"moto", "pytest", "aws-cdk-lib", "cdk-nag", "flask", "ruff"} & set(locked())


def test_kubernetes_and_botocore_share_one_python_dateutil() -> None:
    # kubernetes 37 wants python-dateutil>=3, which botocore refuses.
    pins = locked()
    assert pins["kubernetes"] == Version("36.0.3")
    assert pins["python-dateutil"] < Version("3")


def test_the_lock_is_resolved_for_the_functions_python() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (python,) = re.findall(r"^LAMBDA_PYTHON := (\S+)$", makefile, flags=re.MULTILINE)
    assert python == RUNTIME_PYTHON_VERSION
