"""Prefix delegation: /28 prefixes of 16 addresses; derived by hand from ipamd's pool manager."""

from __future__ import annotations

import pytest

from ipaudit.cni import CniSettings, simulate
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
M5_LARGE = InstanceTypeLimits("m5.large", 3, 10, 2, "nitro")
M4_4XLARGE = InstanceTypeLimits("m4.4xlarge", 8, 30, 16, "xen")
PREFIX = {"ENABLE_PREFIX_DELEGATION": "true"}


def _pd(**values: str) -> CniSettings:
    return CniSettings.from_env({**PREFIX, **values})


@pytest.mark.parametrize(
    ("pods", "prefixes"), [(0, 1), (1, 2), (10, 2), (16, 2), (17, 3), (96, 7), (100, 8)]
)
def test_warm_prefix_target_1_holds_one_free_prefix_beyond_the_pods(
    pods: int, prefixes: int
) -> None:
    # P = ceil(N / 16) + 1, all on the primary ENI (it takes 29 prefixes).
    [step] = simulate(M5_8XLARGE, _pd(WARM_PREFIX_TARGET="1"), [pods], placement="pack").steps
    assert (step.prefixes, step.secondary_ips, step.enis) == (prefixes, 16 * prefixes, 1)
    assert step.ips_held == 1 + 16 * prefixes


def test_packed_pods_leaving_free_their_prefixes() -> None:
    # 10 pods in prefix 0; 7 free prefixes > WARM_PREFIX_TARGET: 6 go back.
    steps = simulate(M5_8XLARGE, _pd(WARM_PREFIX_TARGET="1"), [100, 10], placement="pack").steps
    assert steps[1].prefixes == 2


def test_spread_pods_pin_every_prefix() -> None:
    # 10 pods over 8 prefixes: no prefix is empty, none can go (#2460).
    steps = simulate(M5_8XLARGE, _pd(WARM_PREFIX_TARGET="1"), [100, 10], placement="spread").steps
    assert (steps[1].prefixes, steps[1].ips_held) == (8, 129)


@pytest.mark.parametrize(
    ("warm", "minimum", "pods", "prefixes"),
    [(5, 40, 10, 3), (5, 40, 100, 7), (2, 0, 14, 1), (2, 0, 15, 2), (16, 0, 0, 1)],
)
def test_warm_and_minimum_ip_targets_count_whole_prefixes(
    warm: int, minimum: int, pods: int, prefixes: int
) -> None:
    # P = max(ceil((N + WIT) / 16), ceil(MIT / 16))
    settings = _pd(WARM_IP_TARGET=str(warm), MINIMUM_IP_TARGET=str(minimum))
    [step] = simulate(M5_8XLARGE, settings, [pods], placement="pack").steps
    assert (step.pods, step.prefixes) == (pods, prefixes)


def test_warm_ip_targets_give_prefixes_back_when_pods_leave() -> None:
    # 100 -> 20 pods packed: max(ceil(25 / 16), ceil(40 / 16)) = 3.
    settings = _pd(WARM_IP_TARGET="5", MINIMUM_IP_TARGET="40")
    steps = simulate(M5_8XLARGE, settings, [100, 20], placement="pack").steps
    assert steps[1].prefixes == 3


def test_warm_eni_target_has_no_effect_in_prefix_mode() -> None:
    one = simulate(M5_8XLARGE, _pd(WARM_PREFIX_TARGET="1", WARM_ENI_TARGET="1"), [40]).steps
    three = simulate(M5_8XLARGE, _pd(WARM_PREFIX_TARGET="1", WARM_ENI_TARGET="3"), [40]).steps
    assert one == three


def test_the_max_pods_gate_applies_to_prefixes() -> None:
    # m5.large, max pods 29: 27 pods; 2 prefixes = 32 >= 29 stops growth although 5 < 16 free.
    [gated] = simulate(M5_LARGE, _pd(WARM_PREFIX_TARGET="1"), [27]).steps
    assert (gated.pods, gated.prefixes) == (27, 2)
    [ungated] = simulate(M5_LARGE, _pd(WARM_PREFIX_TARGET="1"), [27], max_pods=110).steps
    assert ungated.prefixes == 3


def test_a_xen_instance_falls_back_to_secondary_addresses() -> None:
    [step] = simulate(M4_4XLARGE, _pd(WARM_PREFIX_TARGET="1"), [100]).steps
    assert (step.prefixes, step.enis, step.secondary_ips) == (0, 5, 145)


def test_custom_networking_puts_prefixes_on_a_secondary_eni() -> None:
    settings = _pd(WARM_PREFIX_TARGET="1", AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG="true")
    [step] = simulate(M5_8XLARGE, settings, [10], placement="pack").steps
    assert (step.enis, step.prefixes, step.ips_held) == (2, 2, 2 + 32)
