"""Fixtures for the CDK app: in-process synthesis for template assertions, and one real
`cdk synth` through the pinned CLI for what only the cloud assembly shows (asset, cdk-nag)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

# The CDK app's package lives at the repository root, which pytest does not put on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cdk_harness import (
    CloudAssembly,
    Synth,
    Synthesized,
    cdk_cli,
    cdk_json_context,
)

from infra.app import build


@pytest.fixture
def synth(tmp_path: Path) -> Synth:
    """Synthesize both stacks with cdk.json's context plus overrides, skipping asset bundling
    (the real CLI synth covers the asset)."""

    def run(**overrides: Any) -> Synthesized:
        context = {**cdk_json_context(), **overrides, "aws:cdk:bundling-stacks": []}
        app = cdk.App(context=context, outdir=str(tmp_path / "cdk.out"))
        auditor, member = build(app)
        return Synthesized(Template.from_stack(auditor), Template.from_stack(member))

    return run


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudAssembly]:
    """One real `cdk synth` of the whole app (both stacks, bundling, cdk-nag) per test run."""
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    result = cdk_cli("synth", "--quiet", "--output", str(out))
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    yield CloudAssembly(out)
