"""The aws-node settings worth simulating for a cluster, as env changes on top of its own.

WARM_IP_TARGET / MINIMUM_IP_TARGET pairs (MINIMUM_IP_TARGET near the pods nodes run, as the
CNI docs advise, or unset), and prefix delegation with WARM_PREFIX_TARGET=1 where every node is
Nitro. Never WARM_IP_TARGET=0 with MINIMUM_IP_TARGET set: that caps the pool and starves pods.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.recommend.evaluate import NodeLoad

# The CNI docs advise against WARM_IP_TARGET=1 (EC2 throttling on churn); 2 is their example.
WARM_IP_TARGETS = (2, 4, 8)


@dataclass(frozen=True)
class Candidate:
    changes: dict[str, str]  # aws-node env to set; "0" unsets a target, as ipamd reads it
    settings: CniSettings


def candidates(
    env: Mapping[str, str], current: CniSettings, loads: Sequence[NodeLoad]
) -> list[Candidate]:
    """Settings to simulate for these nodes (at least one), each differing from the current."""
    pods = sorted(load.pods for load in loads)
    typical = (round(statistics.median(pods)), pods[-1])
    changes: list[dict[str, str]] = []
    for warm in WARM_IP_TARGETS:
        for minimum in sorted({0, *(p + warm for p in typical)}):
            changes.append({"WARM_IP_TARGET": str(warm), "MINIMUM_IP_TARGET": str(minimum)})
    if all(load.limits.supports_prefix_delegation for load in loads):
        prefix = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}
        if current.warm_ip_targets_defined:  # they would override WARM_PREFIX_TARGET
            prefix |= {"WARM_IP_TARGET": "0", "MINIMUM_IP_TARGET": "0"}
        changes.append(prefix)
    result = []
    for change in changes:
        settings = CniSettings.from_env({**env, **change})
        if settings != current and not settings.starves_pods:
            result.append(Candidate(_effective(env, change), settings))
    return result


def _effective(env: Mapping[str, str], change: Mapping[str, str]) -> dict[str, str]:
    """Only what differs from the env as set; unsetting what is not set is no change."""
    return {
        name: value
        for name, value in change.items()
        if env.get(name, "").strip() != value and not (value == "0" and not env.get(name))
    }
