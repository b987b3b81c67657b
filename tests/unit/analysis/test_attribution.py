"""Who holds a subnet's used addresses, as one cluster sees it: counts that sum to usable - free."""

from __future__ import annotations

from ipaudit.analysis.attribution import ClusterLens, attribute
from ipaudit.analysis.pod_addresses import PodAddresses
from ipaudit.snapshot import Eni, KubePod, Subnet

SUBNET = Subnet("subnet-a", "vpc-1", "10.0.0.0/24", "eu-west-1a", available_ips=251 - 24)


def eni(eni_id: str, *ips: str, **fields: object) -> Eni:
    values: dict[str, object] = {
        "eni_id": eni_id,
        "subnet_id": "subnet-a",
        "vpc_id": "vpc-1",
        "status": "in-use",
        "description": "",
        "interface_type": "interface",
        "private_ips": ips,
    }
    values.update(fields)
    return Eni(**values)  # type: ignore[arg-type]


def running(*ips: str) -> PodAddresses:
    return PodAddresses.of(KubePod("default", ip, "node-1", "Running", False, ip) for ip in ips)


ENIS = [
    eni("eni-node", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", instance_id="i-1"),
    eni("eni-eks", "10.0.0.8", description="Amazon EKS prod", requester_managed=True),
    eni("eni-nlb", "10.0.0.9", interface_type="network_load_balancer", requester_managed=True),
    eni("eni-vpce", "10.0.0.10", interface_type="vpc_endpoint", requester_managed=True),
    eni("eni-nat", "10.0.0.11", interface_type="nat_gateway", requester_managed=True),
    eni("eni-lambda", "10.0.0.12", interface_type="lambda", requester_managed=True),
    eni("eni-rds", "10.0.0.13", description="RDSNetworkInterface", requester_managed=True),
    eni("eni-other-node", "10.0.0.14", "10.0.0.15", instance_id="i-2"),
    eni("eni-mine", "10.0.0.16"),
    eni("eni-leak", "10.0.0.17", "10.0.0.18", status="available"),
]


def lens(pods: PodAddresses | None) -> ClusterLens:
    return ClusterLens(
        cluster="prod",
        instances=frozenset({"i-1"}),
        aws_node=frozenset({"i-1"}),
        pods=pods,
        owners={"eni-node": "prod", "eni-other-node": "dev"},
        leaked=frozenset({"eni-leak"}),
    )


def test_every_visible_address_has_one_owner_and_the_rest_is_unseen() -> None:
    addresses, free = attribute(SUBNET, ENIS, lens(running("10.0.0.5")))
    assert free == 227
    assert {k: v for k, v in addresses.items() if v} == {
        "node_primary": 1,
        "pods": 1,
        "warm": 2,
        "other_clusters": 2,
        "eks_control_plane": 1,
        "load_balancers": 1,
        "vpc_endpoints": 1,
        "nat_gateways": 1,
        "lambda": 1,
        "other_aws_services": 1,
        "other": 1,
        "leaked": 2,
        "unseen": 9,  # 24 used, 15 on visible ENIs: another account's, say
    }
    assert sum(addresses.values()) == 251 - free


def test_without_kubernetes_aws_nodes_addresses_are_unknown_not_warm() -> None:
    addresses, _ = attribute(SUBNET, ENIS, lens(None))
    assert (addresses["pods"], addresses["warm"], addresses["aws_node_unknown"]) == (0, 0, 3)


def test_when_the_enis_hold_more_than_ec2_counts_used_free_is_lowered_to_match() -> None:
    crowded = Subnet("subnet-a", "vpc-1", "10.0.0.0/24", "eu-west-1a", available_ips=251 - 2)
    addresses, free = attribute(crowded, ENIS, lens(running()))
    assert (free, addresses["unseen"], sum(addresses.values())) == (236, 0, 15)
