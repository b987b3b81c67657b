"""`serve-metrics` without --deadline still bounds every cycle."""

from __future__ import annotations

import argparse

import pytest

from ipaudit.cli import main, serve_metrics
from ipaudit.errors import InputError


@pytest.mark.parametrize(("given", "bound"), [([], 600.0), (["--deadline", "120"], 120.0)])
def test_every_cycle_has_a_deadline(
    monkeypatch: pytest.MonkeyPatch, given: list[str], bound: float
) -> None:
    seen: list[float | None] = []

    def setup_seen(args: argparse.Namespace) -> None:
        seen.append(args.deadline)
        raise InputError("stop here: the loop is not under test")

    monkeypatch.setattr(serve_metrics, "audit_setup", setup_seen)
    assert main(["serve-metrics", "--port", "0", *given]) == 1
    assert seen == [bound] and serve_metrics.DEFAULT_DEADLINE == 600.0
