"""Fixtures for the CDK app: in-process synthesis for template assertions, and one real
`cdk synth` through the pinned CLI for what only the cloud assembly shows (asset, cdk-nag)."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Synthesize both stacks with cdk.json's context plus overrides, skipping asset bundling
    (the real CLI synth covers the asset). Templates are read-only, so equal overrides share one
    synthesis across the session."""
    cache: dict[str, Synthesized] = {}

    def run(**overrides: Any) -> Synthesized:
        key = json.dumps(overrides, sort_keys=True)
        if key not in cache:
            context = {**cdk_json_context(), **overrides, "aws:cdk:bundling-stacks": []}
            app = cdk.App(context=context, outdir=str(tmp_path_factory.mktemp("app")))
            auditor, member = build(app)
            cache[key] = Synthesized(Template.from_stack(auditor), Template.from_stack(member))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudAssembly]:
    """One real `cdk synth` of the whole app (both stacks, bundling, cdk-nag) per test run."""
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    result = cdk_cli("synth", "--quiet", "--output", str(out))
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    yield CloudAssembly(out)
