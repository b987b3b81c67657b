"""Candidate settings: what is worth simulating for a cluster's nodes."""

from __future__ import annotations

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.recommend.candidates import candidates
from ipaudit.recommend.evaluate import NodeLoad
from ipaudit.snapshot import InstanceTypeLimits

NITRO = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
XEN = InstanceTypeLimits("m4.4xlarge", 8, 30, 16, "xen")


def _load(limits: InstanceTypeLimits, pods: int) -> NodeLoad:
    return NodeLoad(limits, pods, 234, None, (29,), False, burst_pods=pods)


def test_candidates_never_starve_pods_and_differ_from_now() -> None:
    env = {"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "12"}
    current = CniSettings.from_env(env)
    found = candidates(env, current, [_load(NITRO, 10), _load(NITRO, 30)])
    assert found
    for candidate in found:
        assert not candidate.settings.starves_pods
        assert candidate.settings != current
        assert candidate.settings == CniSettings.from_env({**env, **candidate.changes})


def test_prefix_delegation_is_a_candidate_on_nitro_only() -> None:
    def has_prefix(limits: InstanceTypeLimits) -> bool:
        found = candidates({}, CniSettings(), [_load(limits, 10)])
        return any(c.settings.prefix_delegation for c in found)

    assert has_prefix(NITRO) and not has_prefix(XEN)


def test_minimum_ip_target_sits_near_the_pods_nodes_run() -> None:
    found = candidates({}, CniSettings(), [_load(NITRO, 10), _load(NITRO, 10), _load(NITRO, 40)])
    pairs = {(c.settings.warm_ip_target, c.settings.minimum_ip_target) for c in found}
    assert (2, 12) in pairs and (2, 42) in pairs and (2, 0) in pairs
