"""EKS clusters of one account x region: network configuration, node groups, the vpc-cni add-on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from ipaudit.snapshot import HealthIssue

VPC_CNI_ADDON = "vpc-cni"
# ResourceNotFoundException: no managed vpc-cni add-on (aws-node is self-managed).
# "404": moto answers DescribeAddon with a bare 404 page because it does not implement it.
_NO_ADDON_CODES = frozenset({"ResourceNotFoundException", "404"})


@dataclass(frozen=True)
class EksNodegroup:
    """What DescribeNodegroup says about where a managed node group launches and how big."""

    name: str
    instance_types: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    asgs: tuple[str, ...]
    max_size: int | None  # scalingConfig.maxSize: the ASG's own MaxSize wins when read


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
    # Its configurationValues as given (JSON or YAML; "" when none); None when self-managed.
    vpc_cni_addon_configuration: str | None = None
    ip_family: str = "ipv4"  # kubernetesNetworkConfig.ipFamily
    auto_mode: bool = False  # computeConfig.enabled (EKS Auto Mode)
    health_issues: tuple[HealthIssue, ...] = ()
    nodegroup_subnet_ids: tuple[str, ...] = ()  # where the node groups launch nodes
    nodegroup_asgs: tuple[str, ...] = ()  # the node groups' Auto Scaling groups
    nodegroup_details: tuple[EksNodegroup, ...] = ()


def describe_clusters(eks_client: Any, ec2_client: Any | None = None) -> list[EksCluster]:
    """Every cluster the client's account and region hold, in name order.

    With `ec2_client`, a cluster whose description lacks its VPC id gets it from its subnets.
    """
    names: list[str] = []
    for page in eks_client.get_paginator("list_clusters").paginate():
        names.extend(page.get("clusters", []))
    described = (_describe_cluster(eks_client, name) for name in sorted(set(names)))
    clusters = [cluster for cluster in described if cluster is not None]
    if ec2_client is not None and any(not c.vpc_id and c.subnet_ids for c in clusters):
        clusters = _vpc_from_subnets(ec2_client, clusters)
    return clusters


def _describe_cluster(eks_client: Any, name: str) -> EksCluster | None:
    try:
        cluster = eks_client.describe_cluster(name=name)["cluster"]
    except ClientError as error:
        # Deleted between ListClusters and DescribeCluster: nothing left to audit.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    vpc = cluster.get("resourcesVpcConfig", {})
    nodegroups = _nodegroups(eks_client, name)
    subnets: set[str] = set()
    asgs: set[str] = set()
    details = []
    for nodegroup in nodegroups:
        described = _describe_nodegroup(eks_client, name, nodegroup)
        if not described:
            continue
        subnets.update(described.get("subnets", []))
        resources = described.get("resources") or {}
        group_asgs = tuple(
            sorted(g["name"] for g in resources.get("autoScalingGroups", []) if g.get("name"))
        )
        asgs.update(group_asgs)
        max_size = (described.get("scalingConfig") or {}).get("maxSize")
        details.append(
            EksNodegroup(
                name=nodegroup,
                instance_types=tuple(described.get("instanceTypes") or ()),
                subnet_ids=tuple(described.get("subnets") or ()),
                asgs=group_asgs,
                max_size=None if max_size is None else int(max_size),
            )
        )
    addon = _vpc_cni_addon(eks_client, name)
    network = cluster.get("kubernetesNetworkConfig") or {}
    return EksCluster(
        name=cluster["name"],
        arn=cluster["arn"],
        vpc_id=vpc.get("vpcId", ""),
        subnet_ids=tuple(vpc.get("subnetIds", [])),
        endpoint=cluster.get("endpoint") or None,
        ca_data=cluster.get("certificateAuthority", {}).get("data") or None,
        status=cluster.get("status", ""),
        nodegroups=nodegroups,
        vpc_cni_addon=None if addon is None else addon[0],
        vpc_cni_addon_configuration=None if addon is None else addon[1],
        ip_family=str(network.get("ipFamily") or "ipv4").lower(),
        auto_mode=bool((cluster.get("computeConfig") or {}).get("enabled", False)),
        health_issues=tuple(
            HealthIssue(
                code=str(issue.get("code", "")),
                message=str(issue.get("message", "")),
                resource_ids=tuple(issue.get("resourceIds") or ()),
            )
            for issue in (cluster.get("health") or {}).get("issues") or ()
        ),
        nodegroup_subnet_ids=tuple(sorted(subnets)),
        nodegroup_asgs=tuple(sorted(asgs)),
        nodegroup_details=tuple(details),
    )


def _describe_nodegroup(eks_client: Any, cluster: str, nodegroup: str) -> dict[str, Any]:
    try:
        return dict(
            eks_client.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
        )
    except ClientError as error:
        # Deleted between ListNodegroups and DescribeNodegroup: it launches nothing any more.
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return {}
        raise


def _vpc_from_subnets(ec2_client: Any, clusters: list[EksCluster]) -> list[EksCluster]:
    # AWS always names the VPC in DescribeCluster; moto (the demo, the tests) leaves it out.
    # One paginated DescribeSubnets covers every such cluster of the target.
    wanted = sorted({s for c in clusters if not c.vpc_id for s in c.subnet_ids})
    vpc_of: dict[str, str] = {}
    paginator = ec2_client.get_paginator("describe_subnets")
    for page in paginator.paginate(Filters=[{"Name": "subnet-id", "Values": wanted}]):
        for subnet in page.get("Subnets", []):
            vpc_of[subnet["SubnetId"]] = subnet["VpcId"]
    return [
        replace(c, vpc_id=next((vpc_of[s] for s in c.subnet_ids if s in vpc_of), ""))
        if not c.vpc_id
        else c
        for c in clusters
    ]


def _nodegroups(eks_client: Any, cluster: str) -> tuple[str, ...]:
    names: list[str] = []
    for page in eks_client.get_paginator("list_nodegroups").paginate(clusterName=cluster):
        names.extend(page.get("nodegroups", []))
    return tuple(sorted(names))


def _vpc_cni_addon(eks_client: Any, cluster: str) -> tuple[str, str] | None:
    """The managed add-on's version and configuration values, or None when self-managed."""
    try:
        addon = eks_client.describe_addon(clusterName=cluster, addonName=VPC_CNI_ADDON)["addon"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NO_ADDON_CODES:
            return None
        raise
    return str(addon.get("addonVersion") or ""), str(addon.get("configurationValues") or "")
