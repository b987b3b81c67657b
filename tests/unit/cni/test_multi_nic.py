"""Network cards above 0 under ENABLE_MULTI_NIC: ipamd forces WARM_IP_TARGET and
MINIMUM_IP_TARGET to 1 there, so each holds one ENI with one secondary address (2 addresses), or
one /28 under prefix delegation; pods land on card 0 first."""

from __future__ import annotations

from ipaudit.cni import startup_ips_held
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.recommend.evaluate import evaluate, node_loads
from ipaudit.report import ClusterReport, NetworkCardHolding, NodeReport, SubnetReport
from ipaudit.snapshot import InstanceTypeLimits

# c6in.32xlarge: 2 network cards of 8 ENIs each, 50 IPv4 per ENI (vpc_ip_resource_limit.go).
C6IN = InstanceTypeLimits("c6in.32xlarge", 8, 50, 128, "nitro", network_cards=(8, 8))


def test_without_multi_nic_only_card_0_holds_addresses() -> None:
    assert startup_ips_held(C6IN, {}) == 50


def test_with_multi_nic_each_card_above_0_holds_2_addresses_at_start_up() -> None:
    assert startup_ips_held(C6IN, {"ENABLE_MULTI_NIC": "true"}) == 50 + 2


def test_with_multi_nic_and_prefix_delegation_each_card_above_0_holds_a_prefix() -> None:
    env = {"ENABLE_MULTI_NIC": "true", "ENABLE_PREFIX_DELEGATION": "true"}
    assert startup_ips_held(C6IN, env) == (1 + 16) + (1 + 16)


def test_settings_change_card_0_only_and_card_1_keeps_what_it_holds() -> None:
    # 40 pods on card 0's primary ENI (1 + 49 held); card 1 holds its forced 1/1: 2.
    node = NodeReport(
        "i-1",
        "c6in.32xlarge",
        "subnet-a",
        2,
        52,
        50,
        40,
        10,
        max_pods=394,
        network_cards=[NetworkCardHolding(0, 1, 50), NetworkCardHolding(1, 1, 2)],
    )
    subnet = SubnetReport("subnet-a", "10.0.0.0/20", "eu-west-1a", 4091, 4000, 97.8, 200)
    cluster = ClusterReport(
        "111111111111",
        "eu-west-1",
        "ml",
        "vpc-1",
        {"ENABLE_MULTI_NIC": "true"},
        [subnet],
        [node],
        [],
        52,
        40,
        10,
    )
    current = CniSettings.from_env(cluster.cni or {})
    loads = node_loads(cluster, {"c6in.32xlarge": C6IN}, current)
    # WARM_ENI_TARGET=1 keeps a whole spare ENI on card 0 (2 x 50); card 1 still holds 2.
    assert evaluate(current, loads).ips_held == 100 + 2
    # WARM_IP_TARGET=2 leaves card 0 with 1 + 42; card 1 still 2.
    tighter = CniSettings.from_env({"ENABLE_MULTI_NIC": "true", "WARM_IP_TARGET": "2"})
    assert evaluate(tighter, loads).ips_held == 43 + 2
