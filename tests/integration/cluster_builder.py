"""Clusters built by hand in moto over HTTP for the shape tests: every address given, so the
counts the audit prints can be worked out on paper."""

from __future__ import annotations

from typing import Any

from ipaudit_sim.kube_api import KubeApiServer, node_object, pod_object
from ipaudit_sim.seed import SeededCluster

ACCOUNT = "123456789012"  # moto's own account


def kube(cluster: SeededCluster, eni_configs: list[dict[str, Any]] | None = None) -> KubeApiServer:
    server = KubeApiServer(cluster.name)
    server.nodes, server.pods = cluster.kube_nodes, cluster.kube_pods
    server.daemonsets = cluster.kube_daemonsets
    server.eni_configs = eni_configs or []
    return server


def interface(ec2: Any, subnet_id: str, addresses: list[str], description: str) -> str:
    eni_id: str = ec2.create_network_interface(
        SubnetId=subnet_id,
        Description=description,
        PrivateIpAddresses=[
            {"PrivateIpAddress": a, "Primary": i == 0} for i, a in enumerate(addresses)
        ],
    )["NetworkInterface"]["NetworkInterfaceId"]
    return eni_id


def add_node(
    ec2: Any,
    seeded: SeededCluster,
    *,
    subnet_id: str,
    primary: list[str],
    enis: list[tuple[str, list[str]]],
    pods: list[str],
    zone: str = "eu-west-1a",
) -> str:
    """An m5.large node (3 ENIs x 10 addresses, max pods 29) in `zone`: its primary ENI's
    addresses (its own first), more ENIs (subnet, addresses) attached after it, and running
    pods on the given addresses. Returns its node name."""
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        SubnetId=subnet_id,
        PrivateIpAddress=primary[0],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "eks:cluster-name", "Value": seeded.name}],
            }
        ],
    )["Instances"][0]["InstanceId"]
    seeded.instance_ids.append(instance_id)
    if len(primary) > 1:
        own = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        ec2.assign_private_ip_addresses(
            NetworkInterfaceId=own["NetworkInterfaces"][0]["NetworkInterfaceId"],
            PrivateIpAddresses=primary[1:],
        )
    for device, (eni_subnet, addresses) in enumerate(enis, start=1):
        eni = interface(ec2, eni_subnet, addresses, f"aws-K8S-{instance_id}")
        ec2.attach_network_interface(
            NetworkInterfaceId=eni, InstanceId=instance_id, DeviceIndex=device
        )
    name = f"ip-{primary[0].replace('.', '-')}.internal"
    seeded.kube_nodes.append(node_object(name, instance_id, zone, 29, internal_ip=primary[0]))
    for pod, ip in enumerate(pods):
        seeded.kube_pods.append(pod_object("default", f"web-{pod}-{name}", name, ip))
    return name


def eks_cluster(eks: Any, name: str, subnet_ids: list[str]) -> None:
    eks.create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": subnet_ids},
    )
