"""EKS clusters of one account x region: network configuration, node groups, the vpc-cni add-on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

VPC_CNI_ADDON = "vpc-cni"
# ResourceNotFoundException: no managed vpc-cni add-on (aws-node is self-managed).
# "404": moto answers DescribeAddon with a bare 404 page because it does not implement it.
_NO_ADDON_CODES = frozenset({"ResourceNotFoundException", "404"})


@dataclass(frozen=True)
class EksCluster:
    name: str
    arn: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    endpoint: str | None
    ca_data: str | None  # base64 PEM, as DescribeCluster returns it
    status: str
    nodegroups: tuple[str, ...]
    vpc_cni_addon: str | None  # the managed add-on's version; None when self-managed


def describe_clusters(eks_client: Any) -> list[EksCluster]:
    """Every cluster the client's account and region hold, in name order."""
    names: list[str] = []
    for page in eks_client.get_paginator("list_clusters").paginate():
        names.extend(page.get("clusters", []))
    described = (_describe_cluster(eks_client, name) for name in sorted(set(names)))
    return [cluster for cluster in described if cluster is not None]


def _describe_cluster(eks_client: Any, name: str) -> EksCluster | None:
    try:
        cluster = eks_client.describe_cluster(name=name)["cluster"]
    except ClientError as error:
        # Deleted between ListClusters and DescribeCluster: nothing left to audit.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    vpc = cluster.get("resourcesVpcConfig", {})
    return EksCluster(
        name=cluster["name"],
        arn=cluster["arn"],
        vpc_id=vpc.get("vpcId", ""),
        subnet_ids=tuple(vpc.get("subnetIds", [])),
        endpoint=cluster.get("endpoint") or None,
        ca_data=cluster.get("certificateAuthority", {}).get("data") or None,
        status=cluster.get("status", ""),
        nodegroups=_nodegroups(eks_client, name),
        vpc_cni_addon=_vpc_cni_addon(eks_client, name),
    )


def _nodegroups(eks_client: Any, cluster: str) -> tuple[str, ...]:
    names: list[str] = []
    for page in eks_client.get_paginator("list_nodegroups").paginate(clusterName=cluster):
        names.extend(page.get("nodegroups", []))
    return tuple(sorted(names))


def _vpc_cni_addon(eks_client: Any, cluster: str) -> str | None:
    try:
        addon = eks_client.describe_addon(clusterName=cluster, addonName=VPC_CNI_ADDON)["addon"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NO_ADDON_CODES:
            return None
        raise
    version = addon.get("addonVersion")
    return str(version) if version else None
