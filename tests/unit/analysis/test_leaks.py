"""Leaked CNI ENIs: detached interfaces the VPC CNI created and still holding addresses."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from ipaudit.analysis.leaks import leaked_enis
from ipaudit.snapshot import Eni


def eni(
    eni_id: str,
    status: str = "available",
    description: str = "aws-K8S-i-0abc",
    tags: Mapping[str, str] | None = None,
    prefixes: tuple[str, ...] = (),
) -> Eni:
    return Eni(
        eni_id=eni_id,
        subnet_id="subnet-a",
        vpc_id="vpc-1",
        status=status,
        description=description,
        interface_type="interface",
        private_ips=("10.0.0.10", "10.0.0.11", "10.0.0.12"),
        prefixes=prefixes,
        tags=tags or {},
    )


def test_available_cni_enis_are_leaks_with_the_addresses_they_hold() -> None:
    leaks = leaked_enis(
        "prod",
        [
            eni("eni-by-description"),
            eni("eni-by-tag", description="", tags={"node.k8s.amazonaws.com/instance_id": "i-1"}),
            eni("eni-with-prefix", prefixes=("10.0.1.0/28",)),
        ],
    )
    assert [(leak.eni_id, leak.ips) for leak in leaks] == [
        ("eni-by-description", 3),
        ("eni-by-tag", 3),
        ("eni-with-prefix", 3 + 16),
    ]


def test_attached_and_non_cni_and_other_clusters_enis_are_not_leaks() -> None:
    leaks = leaked_enis(
        "prod",
        [
            eni("eni-attached", status="in-use"),
            eni("eni-lambda", description="AWS Lambda VPC ENI"),
            eni("eni-other-cluster", tags={"cluster.k8s.amazonaws.com/name": "staging"}),
        ],
    )
    assert leaks == []


def test_a_cni_eni_younger_than_five_minutes_is_being_attached_not_leaked() -> None:
    now = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    created = "node.k8s.amazonaws.com/createdAt"
    leaks = leaked_enis(
        "prod",
        [
            eni("eni-young", tags={created: "2026-01-05T09:57:00Z"}),
            eni("eni-old", tags={created: "2026-01-05T09:55:00Z"}),
        ],
        now,
    )
    assert [leak.eni_id for leak in leaks] == ["eni-old"]


def test_an_available_branch_eni_is_a_leak_and_tagged_for_its_cluster() -> None:
    branch = replace(
        eni("eni-branch", description="aws-k8s-branch-eni"),
        interface_type="branch",
        tags={"kubernetes.io/cluster/prod": "owned"},
    )
    assert [leak.eni_id for leak in leaked_enis("prod", [branch])] == ["eni-branch"]
    assert leaked_enis("other", [branch]) == []
