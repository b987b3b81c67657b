"""Security groups for pods (ENABLE_POD_ENI): the trunk ENI holds one of the node's ENI slots.

ipamd's hasRoomForEni leaves one slot for the trunk on a type that can trunk; the trunk carries
one primary address from the node's subnet and no pod addresses. Worked by hand for m5.large:
3 ENIs x 10 IPv4, so 9 pod addresses per ENI and kubelet's max pods 3 x 9 + 2 = 29.
"""

from __future__ import annotations

from ipaudit.cni import CniSettings, simulate
from ipaudit.cni.simulator import startup_ips_held
from ipaudit.snapshot import InstanceTypeLimits

M5_LARGE = InstanceTypeLimits("m5.large", max_enis=3, ipv4_per_eni=10, vcpus=2, hypervisor="nitro")
M4_LARGE = InstanceTypeLimits("m4.large", max_enis=2, ipv4_per_eni=10, vcpus=2, hypervisor="xen")
M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
DEFAULTS = CniSettings.from_env({})
POD_ENI = CniSettings.from_env({"ENABLE_POD_ENI": "true"})


def test_the_setting_is_read_from_aws_node() -> None:
    assert POD_ENI.pod_eni and not DEFAULTS.pod_eni
    assert POD_ENI.describe() == "WARM_ENI_TARGET=1, ENABLE_POD_ENI=true"


def test_twenty_pods_fill_three_enis_without_a_trunk() -> None:
    # 20 pods: the primary ENI filled (9), a second (18), a third (27); 3 primaries + 27.
    [step] = simulate(M5_LARGE, DEFAULTS, [20]).steps
    assert (step.pods, step.pending, step.enis, step.ips_held) == (20, 0, 3, 30)


def test_with_a_trunk_the_pool_stops_at_two_enis_and_two_pods_wait() -> None:
    # Two pool ENIs hold 18 addresses: 18 pods placed, 2 wait; the trunk adds its primary.
    [step] = simulate(M5_LARGE, POD_ENI, [20]).steps
    assert (step.pods, step.pending, step.enis, step.secondary_ips, step.ips_held) == (
        18,
        2,
        3,
        18,
        2 + 1 + 18,
    )


def test_a_new_node_takes_the_trunk_address_at_start_up() -> None:
    # The primary ENI filled with 9 warm addresses, plus the trunk's primary address.
    assert startup_ips_held(M5_LARGE, {}) == 10
    assert startup_ips_held(M5_LARGE, {"ENABLE_POD_ENI": "true"}) == 11


def test_a_type_that_cannot_trunk_keeps_every_slot() -> None:
    # Xen instances never get a trunk ENI: 2 ENIs x 9 for 18 pods, nothing reserved.
    [step] = simulate(M4_LARGE, POD_ENI, [18]).steps
    assert (step.pods, step.pending, step.enis, step.ips_held) == (18, 0, 2, 20)


def test_the_article_node_with_security_groups_for_pods() -> None:
    # 100 pods: 4 full ENIs and a warm fifth (as without), plus the trunk: 6 ENIs, 151 held.
    [step] = simulate(M5_8XLARGE, POD_ENI, [100]).steps
    assert (step.pods, step.enis, step.ips_held, step.warm_ips) == (100, 6, 151, 45)
