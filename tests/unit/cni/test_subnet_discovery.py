"""Where ipamd creates a node's next ENI under enhanced subnet discovery, version by version
(aws/amazon-vpc-cni-k8s pkg/awsutils: createENI, isSubnetValidForENICreation)."""

from __future__ import annotations

import pytest

from ipaudit.cni.subnet_discovery import (
    candidate_subnets,
    discovers_subnets,
    discovery_enabled,
    excluded,
    parse_version,
    running_version,
    valid_for_new_eni,
)
from ipaudit.snapshot import Subnet

TAG = "kubernetes.io/role/cni"


def subnet(subnet_id: str, free: int, az: str = "eu-west-1a", **tags: str) -> Subnet:
    return Subnet(subnet_id, "vpc-1", "10.0.0.0/24", az, free, tags=tags)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v1.19.2-eksbuild.1", (1, 19, 2)),
        ("602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.3", (1, 18, 3)),
        ("registry.local:5000/amazon-k8s-cni:v1.23.1", (1, 23, 1)),
        ("amazon-k8s-cni:latest", None),
        (None, None),
    ],
)
def test_the_version_comes_from_an_addon_version_or_an_image_tag(
    text: str | None, version: tuple[int, int, int] | None
) -> None:
    assert parse_version(text) == version


def test_the_running_image_wins_over_the_addon_version() -> None:
    assert running_version("x/amazon-k8s-cni:v1.20.0", "v1.19.0-eksbuild.1") == (1, 20, 0)
    assert running_version(None, "v1.19.0-eksbuild.1") == (1, 19, 0)


def test_discovery_is_on_by_default_from_v1_18_and_absent_before() -> None:
    assert discovery_enabled({}, (1, 18, 0))
    assert discovery_enabled({}, None)  # an unknown version is taken as a current one
    assert not discovery_enabled({}, (1, 17, 1))
    assert not discovery_enabled({"ENABLE_SUBNET_DISCOVERY": "true"}, (1, 16, 0))
    assert not discovery_enabled({"ENABLE_SUBNET_DISCOVERY": "false"}, (1, 19, 0))
    # ipamd keeps the default for a value Go cannot parse as a boolean.
    assert discovery_enabled({"ENABLE_SUBNET_DISCOVERY": "yes"}, (1, 19, 0))


def test_custom_networking_takes_precedence_over_discovery() -> None:
    assert not discovers_subnets({"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, (1, 19, 0))


def test_v1_22_rules_for_the_tag_value() -> None:
    version = (1, 22, 1)
    assert not valid_for_new_eni(subnet("s", 9, **{TAG: "0"}), own=True, version=version)
    assert valid_for_new_eni(subnet("s", 9), own=True, version=version)
    assert not valid_for_new_eni(subnet("s", 9), own=False, version=version)
    assert not valid_for_new_eni(subnet("s", 9, **{TAG: ""}), own=False, version=version)
    assert valid_for_new_eni(subnet("s", 9, **{TAG: "true"}), own=False, version=version)
    assert excluded(subnet("s", 9, **{TAG: "0"}), version)


def test_before_v1_22_any_value_of_the_tag_includes_and_none_excludes() -> None:
    version = (1, 19, 0)
    assert valid_for_new_eni(subnet("s", 9, **{TAG: "0"}), own=False, version=version)
    assert not excluded(subnet("s", 9, **{TAG: "0"}), version)


def test_cluster_tags_keep_a_subnet_to_its_cluster_when_cluster_name_is_set() -> None:
    theirs = subnet("s", 9, **{TAG: "1", "cni.networking.k8s.aws/cluster/other": "1"})
    ours = subnet("s", 9, **{TAG: "1", "cni.networking.k8s.aws/cluster/shop": "1"})
    version = (1, 23, 0)
    assert not valid_for_new_eni(theirs, own=False, version=version, cluster_name="shop")
    assert valid_for_new_eni(ours, own=False, version=version, cluster_name="shop")
    assert valid_for_new_eni(theirs, own=False, version=version)  # CLUSTER_NAME unset: no check


def test_candidates_are_the_zones_valid_subnets_most_free_first() -> None:
    own = subnet("subnet-own", 0)
    vpc = [
        own,
        subnet("subnet-big", 8000, **{TAG: "1"}),
        subnet("subnet-small", 50, **{TAG: "1"}),
        subnet("subnet-untagged", 9000),
        subnet("subnet-other-zone", 9999, az="eu-west-1b", **{TAG: "1"}),
    ]
    found = candidate_subnets(own, vpc, version=(1, 23, 1))
    assert [s.subnet_id for s in found] == ["subnet-big", "subnet-small", "subnet-own"]


def test_v1_22_0_matched_cluster_tags_under_the_eks_prefix_even_without_cluster_name() -> None:
    # #3463: a common EKS `kubernetes.io/cluster/x` tag rejected the subnet on v1.22.0, with
    # CLUSTER_NAME empty too; #3647 (v1.22.1) moved the check to cni.networking.k8s.aws/.
    eks_tagged = subnet("s", 9, **{TAG: "1", "kubernetes.io/cluster/other": "shared"})
    assert not valid_for_new_eni(eks_tagged, own=False, version=(1, 22, 0))
    assert excluded(eks_tagged, (1, 22, 0))
    assert valid_for_new_eni(eks_tagged, own=False, version=(1, 22, 1))
    assert not excluded(eks_tagged, (1, 22, 1))
    ours = subnet("s", 9, **{TAG: "1", "kubernetes.io/cluster/shop": "owned"})
    assert valid_for_new_eni(ours, own=False, version=(1, 22, 0), cluster_name="shop")


def test_a_tagged_subnet_for_another_cluster_excludes_a_nodes_enis_there() -> None:
    theirs = subnet("s", 9, **{TAG: "1", "cni.networking.k8s.aws/cluster/other": "1"})
    assert excluded(theirs, (1, 23, 1), "shop")
    assert not excluded(theirs, (1, 23, 1))  # CLUSTER_NAME unset: no check
    assert not excluded(subnet("s", 9), (1, 23, 1))  # untagged: fail-open


def test_ipv6_skipped_discovery_from_v1_20_until_v1_22() -> None:
    ipv6 = {"ENABLE_IPv6": "true"}
    assert discovery_enabled(ipv6, (1, 19, 0))
    assert not discovery_enabled(ipv6, (1, 20, 0))
    assert not discovery_enabled(ipv6, (1, 21, 9))
    assert discovery_enabled(ipv6, (1, 22, 0))
