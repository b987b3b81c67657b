"""Secondary-IP mode: what ipamd holds, derived by hand from its pool manager.

m5.8xlarge: 8 ENIs x 30 IPv4, so M = 29 pod addresses per ENI (the primary never goes to pods).
"""

from __future__ import annotations

import pytest

from ipaudit.cni import CniSettings, simulate
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits(
    "m5.8xlarge", max_enis=8, ipv4_per_eni=30, vcpus=32, hypervisor="nitro"
)
DEFAULTS = CniSettings.from_env({})


def _env(**values: str) -> CniSettings:
    return CniSettings.from_env(values)


@pytest.mark.parametrize("placement", ["pack", "spread", "random"])
def test_the_article_100_pods_hold_5_enis_and_150_addresses(placement: str) -> None:
    # 100 pods need ceil(100/29) = 4 ENIs; WARM_ENI_TARGET=1 adds a fifth, full, warm one.
    [step] = simulate(M5_8XLARGE, DEFAULTS, [100], placement=placement).steps
    assert (step.pods, step.pending, step.enis, step.secondary_ips, step.ips_held) == (
        100,
        0,
        5,
        145,
        150,
    )
    assert step.warm_ips == 45


def test_the_article_10_pods_spread_over_the_enis_still_hold_150() -> None:
    # Every ENI keeps at least one pod, so none can ever be detached.
    steps = simulate(M5_8XLARGE, DEFAULTS, [100, 10], placement="spread").steps
    assert (steps[1].pods, steps[1].enis, steps[1].ips_held) == (10, 5, 150)


def test_the_article_10_pods_packed_fall_back_to_2_enis_and_60() -> None:
    # Pods sit on ENI 0; ENIs are detached one per pass while available >= (1+1)*29:
    # 135, 106, 77 are, 48 is not. 2 ENIs remain: 2 primaries + 58.
    steps = simulate(M5_8XLARGE, DEFAULTS, [100, 10], placement="pack").steps
    assert (steps[1].pods, steps[1].enis, steps[1].secondary_ips, steps[1].ips_held) == (
        10,
        2,
        58,
        60,
    )


@pytest.mark.parametrize(
    ("pods", "enis"),
    [(0, 1), (1, 2), (28, 2), (29, 2), (30, 3), (58, 3), (59, 4)],
)
def test_warm_eni_target_keeps_a_full_eni_beyond_the_pods(pods: int, enis: int) -> None:
    # Too low while available < 29: the pool grows by whole ENIs until 29 addresses are free.
    [step] = simulate(M5_8XLARGE, DEFAULTS, [pods], placement="pack").steps
    assert (step.enis, step.secondary_ips) == (enis, enis * 29)
    assert step.warm_ips >= 29


@pytest.mark.parametrize(
    ("warm", "minimum", "pods", "ips", "enis"),
    [
        (2, 0, 10, 12, 1),  # N + WIT
        (2, 30, 10, 30, 2),  # MIT dominates: 29 on the primary, 1 on a second ENI
        (5, 10, 40, 45, 2),
        (2, 12, 100, 102, 4),  # ceil(102 / 29) ENIs, filled in order
        (2, 12, 0, 12, 1),
    ],
)
def test_warm_and_minimum_ip_targets_hold_max_of_pods_plus_warm_and_minimum(
    warm: int, minimum: int, pods: int, ips: int, enis: int
) -> None:
    settings = _env(WARM_IP_TARGET=str(warm), MINIMUM_IP_TARGET=str(minimum))
    [step] = simulate(M5_8XLARGE, settings, [pods], placement="pack").steps
    assert (step.pods, step.secondary_ips, step.enis) == (pods, ips, enis)


def test_warm_ip_target_gives_addresses_and_enis_back_when_pods_leave() -> None:
    # 40 pods packed: ENI 0 has 29, ENI 1 has 11 + 2 warm. At 5 pods, 35 addresses are over the
    # target; once given back ENI 1 is empty and detached: 7 addresses on the primary.
    settings = _env(WARM_IP_TARGET="2")
    steps = simulate(M5_8XLARGE, settings, [40, 5], placement="pack").steps
    assert (steps[0].secondary_ips, steps[0].enis) == (42, 2)
    assert (steps[1].pods, steps[1].secondary_ips, steps[1].enis, steps[1].ips_held) == (5, 7, 1, 8)


def test_warm_ip_target_zero_with_a_minimum_starves_the_pod_beyond_it() -> None:
    # short = max(0 - available, 12 - total): 0 once 12 addresses are held (#2650).
    settings = _env(MINIMUM_IP_TARGET="12")
    [step] = simulate(M5_8XLARGE, settings, [13]).steps
    assert (step.pods, step.pending, step.secondary_ips) == (12, 1, 12)


def test_max_eni_caps_the_enis_and_leaves_pods_pending() -> None:
    [step] = simulate(M5_8XLARGE, _env(MAX_ENI="2"), [100]).steps
    assert (step.enis, step.secondary_ips, step.pods, step.pending) == (2, 58, 58, 42)


def test_the_max_pods_gate_stops_growth_once_the_pool_covers_kubelets_max_pods() -> None:
    # max_pods 40 admits 38 pods (2 slots are aws-node and kube-proxy). After 2 ENIs the pool
    # holds 58 >= 40 and never grows again, though only 20 are warm (< 29).
    [gated] = simulate(M5_8XLARGE, DEFAULTS, [100], max_pods=40).steps
    assert (gated.pods, gated.pending, gated.enis, gated.secondary_ips) == (38, 62, 2, 58)
    # Without the gate 38 pods leave 20 free < 29: a third ENI.
    [free] = simulate(M5_8XLARGE, DEFAULTS, [38]).steps
    assert free.enis == 3


def test_custom_networking_keeps_pod_addresses_off_the_primary_eni() -> None:
    # Same formula on the other ENIs (ceil(10/29) + 1 = 2), plus the primary with none.
    settings = _env(AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG="true")
    [step] = simulate(M5_8XLARGE, settings, [10], placement="pack").steps
    assert (step.enis, step.secondary_ips, step.ips_held) == (3, 58, 61)


def test_custom_networking_caps_pods_at_the_non_primary_enis() -> None:
    settings = _env(AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG="true")
    [step] = simulate(M5_8XLARGE, settings, [232]).steps
    assert (step.enis, step.pods, step.pending) == (8, 7 * 29, 232 - 7 * 29)


def test_warm_eni_target_zero_with_a_full_last_eni_never_settles() -> None:
    # 29 pods fill ENI 0; available 0 adds an ENI, which is empty and detached after 60 s:
    # ipamd churns forever and keeps calling EC2.
    [step] = simulate(M5_8XLARGE, _env(WARM_ENI_TARGET="0"), [29], placement="pack").steps
    assert not step.settled
    assert step.ec2_calls > 100


def test_ips_held_counts_every_eni_primary_plus_the_secondary_addresses() -> None:
    for step in simulate(M5_8XLARGE, DEFAULTS, [7, 70, 3], placement="random", seed=3).steps:
        assert step.ips_held == step.enis + step.secondary_ips
        assert step.warm_ips == step.secondary_ips - step.pods


def test_a_subnet_out_of_addresses_stops_growth_and_leaves_pods_pending() -> None:
    # Room for 60 addresses: two ENIs; the third's CreateNetworkInterface fails.
    [step] = simulate(M5_8XLARGE, DEFAULTS, [100], max_ips_held=60).steps
    assert (step.ips_held, step.pods, step.pending) == (60, 58, 42)
