"""What a brand-new node takes from its subnet before its first pod."""

from __future__ import annotations

import pytest

from ipaudit.cni import startup_ips_held
from ipaudit.errors import InputError
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
M4_4XLARGE = InstanceTypeLimits("m4.4xlarge", 8, 30, 16, "xen")


@pytest.mark.parametrize(
    ("env", "held"),
    [
        ({}, 30),  # the primary ENI filled: 1 + 29
        ({"WARM_ENI_TARGET": "2"}, 60),
        ({"WARM_IP_TARGET": "2"}, 3),
        ({"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "30"}, 32),  # 2 ENIs, 30 addresses
        ({"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}, 17),
        ({"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, 31),  # primary + a full second ENI
        ({"ENABLE_IPv6": "true"}, 1),
    ],
)
def test_startup_addresses_follow_the_settings(env: dict[str, str], held: int) -> None:
    assert startup_ips_held(M5_8XLARGE, env) == held


def test_prefix_delegation_on_xen_falls_back_to_addresses() -> None:
    env = {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}
    assert startup_ips_held(M4_4XLARGE, env) == 30


def test_the_max_pods_gate_applies_at_startup() -> None:
    # max pods 10: the primary's 29 already cover it; WARM_ENI_TARGET=2 cannot add a second.
    assert startup_ips_held(M5_8XLARGE, {"WARM_ENI_TARGET": "2"}, max_pods=10) == 30


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InputError, match="WARM_IP_TARGET"):
        startup_ips_held(M5_8XLARGE, {"WARM_IP_TARGET": "x"})
