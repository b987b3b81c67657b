"""The simulated organization with a misbehaving proxy in front of its moto server.

Every fault test runs on loopback only: moto over HTTP, local Kubernetes APIs, local Slack.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from faults.stand_ins import FaultyAws

from ipaudit_sim.world import World, article_world


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The article's organization; os.environ points at its moto server for the module."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(("AWS_", "IPAUDIT_"))]:
            patch.delenv(name)
        with article_world(os.environ) as running:
            for name, value in running.env.items():
                patch.setenv(name, value)
            yield running


@pytest.fixture
def faulty_aws(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyAws]:
    """A proxy in front of moto; the product reaches AWS only through it during the test."""
    proxy = FaultyAws(os.environ["AWS_ENDPOINT_URL"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    yield proxy
    proxy.stop()
