"""The cluster shapes beyond the plain one, added to a seeded cluster: security groups for pods
(trunk and branch ENIs), Fargate pods, AWS services' ENIs in a cluster's subnets.

moto's API cannot create a trunk, branch, load balancer or NAT interface, nor a requester-managed
one; its backend can hold them. These helpers create an ENI through the API (explicit addresses,
so counts come out exact), then set what EC2 would report on moto's backend object, which lives in
this process (`ThreadedMotoServer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import boto3

from ipaudit_sim.kube_api import node_object, pod_object
from ipaudit_sim.seed import SeededCluster


def _account_and_region(session: boto3.Session) -> tuple[str, str]:
    account = str(session.client("sts").get_caller_identity()["Account"])
    return account, str(session.region_name)


def set_eni_attributes(
    session: boto3.Session,
    eni_id: str,
    *,
    interface_type: str | None = None,
    requester_managed: bool | None = None,
    status: str | None = None,
) -> None:
    """What moto's API cannot set, on its backend object (see docs/toolchain notes)."""
    from moto.ec2.models import ec2_backends

    account, region = _account_and_region(session)
    eni = ec2_backends[account][region].enis[eni_id]
    if interface_type is not None:
        eni.interface_type = interface_type
    if requester_managed is not None:
        eni.requester_managed = requester_managed
    if status is not None:
        eni.status = status


def set_instance_type(session: boto3.Session, instance_id: str, instance_type: str) -> None:
    """An instance of a type moto would not launch (one DescribeInstanceTypes does not know)."""
    from moto.ec2.models import ec2_backends

    account, region = _account_and_region(session)
    ec2_backends[account][region].get_instance(instance_id).instance_type = instance_type


def add_eni(
    session: boto3.Session,
    seeded: SeededCluster,
    subnet: int,
    addresses: int,
    *,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    interface_type: str | None = None,
    requester_managed: bool | None = None,
    status: str | None = None,
) -> tuple[str, list[str]]:
    """An ENI with `addresses` explicit addresses in the cluster's subnet: (its id, them)."""
    ec2 = session.client("ec2")
    ips = seeded.books[subnet].take(addresses)
    params: dict[str, Any] = {
        "SubnetId": seeded.subnet_ids[subnet],
        "Description": description,
        "PrivateIpAddresses": [
            {"PrivateIpAddress": ip, "Primary": n == 0} for n, ip in enumerate(ips)
        ],
    }
    if tags:
        params["TagSpecifications"] = [
            {
                "ResourceType": "network-interface",
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
        ]
    eni_id = ec2.create_network_interface(**params)["NetworkInterface"]["NetworkInterfaceId"]
    set_eni_attributes(
        session,
        eni_id,
        interface_type=interface_type,
        requester_managed=requester_managed,
        status=status,
    )
    return eni_id, ips


def add_security_groups_for_pods(
    session: boto3.Session,
    seeded: SeededCluster,
    node: int,
    subnet: int,
    branch_pods: int,
    *,
    trunk_device: int,
    available_branches: int = 0,
) -> None:
    """A trunk ENI on the node and one branch ENI per pod, as the VPC resource controller makes
    them (interface types, descriptions, tags); `available_branches` are left behind, detached."""
    ec2 = session.client("ec2")
    instance_id = seeded.instance_ids[node]
    owner = {"eks:eni:owner": "eks-vpc-resource-controller"}
    cluster_tag = {f"kubernetes.io/cluster/{seeded.name}": "owned"}
    trunk, _ = add_eni(
        session,
        seeded,
        subnet,
        1,
        description="aws-k8s-trunk-eni",
        tags={**owner, **cluster_tag},
        interface_type="trunk",
    )
    ec2.attach_network_interface(
        NetworkInterfaceId=trunk, InstanceId=instance_id, DeviceIndex=trunk_device
    )
    branch_tags = {**owner, **cluster_tag, "vpcresources.k8s.aws/trunk-eni-id": trunk}
    node_name = seeded.node_names[node]
    for n in range(branch_pods + available_branches):
        left = n >= branch_pods
        _, [ip] = add_eni(
            session,
            seeded,
            subnet,
            1,
            description="aws-k8s-branch-eni",
            tags={**branch_tags, "vpcresources.k8s.aws/vlan-id": str(n + 1)},
            interface_type="branch",
            status="available" if left else "in-use",
        )
        if not left and node_name is not None:
            seeded.kube_pods.append(pod_object("payments", f"sg-pod-{node}-{n}", node_name, ip))


def add_fargate_pods(
    session: boto3.Session, seeded: SeededCluster, subnet: int, az: str, pods: int
) -> None:
    """Fargate pods: each on its own Fargate node with its own requester-managed ENI."""
    for n in range(pods):
        _, [ip] = add_eni(session, seeded, subnet, 1, requester_managed=True)
        name = f"fargate-ip-{ip.replace('.', '-')}.{session.region_name}.compute.internal"
        seeded.kube_nodes.append(
            node_object(name, f"fargate-{n}", az, max_pods=1, internal_ip=ip, fargate=True)
        )
        seeded.kube_pods.append(pod_object("serverless", f"job-{n}", name, ip))


def add_service_enis(
    session: boto3.Session,
    seeded: SeededCluster,
    subnet: int,
    services: Sequence[tuple[str, str, int]],
) -> None:
    """AWS services' ENIs in a subnet: (description, interface type, addresses) each, requester
    managed, as a load balancer, a VPC endpoint or a NAT gateway leaves them."""
    for description, interface_type, addresses in services:
        add_eni(
            session,
            seeded,
            subnet,
            addresses,
            description=description,
            interface_type=interface_type,
            requester_managed=True,
            status="in-use",
        )
