"""A local Kubernetes API for cluster `prod`, checking EKS tokens against the moto server."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from ipaudit_sim.aws import MotoServer
from ipaudit_sim.kube_api import KubeApiServer


@pytest.fixture
def kube(aws: boto3.Session, moto_server: MotoServer) -> Iterator[KubeApiServer]:
    server = KubeApiServer("prod", sts_endpoint=moto_server.url)
    server.start()
    yield server
    server.stop()
