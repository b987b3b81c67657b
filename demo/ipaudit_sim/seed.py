"""Building simulated EKS clusters in moto (over HTTP) and their Kubernetes objects.

Every address is given explicitly: moto hands out random, non-unique addresses otherwise, and the
audit's counts and /28 blocks must come out exact.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from ipaudit.aws.instance_types import parse_instance_type
from ipaudit.cni.kubelet_max_pods import max_pods
from ipaudit.timestamps import key_time
from ipaudit_sim.kube_api import (
    KUBERNETES_VERSION,
    aws_node_daemonset,
    daemonset_pod,
    kube_proxy_daemonset,
    node_object,
    pod_object,
    sandbox_failure_event,
)

AMI = "ami-12c6146b"  # any id moto knows
# kubelet retries a failed sandbox with a back-off: the event's count grows over this while.
SANDBOX_RETRIES = 12
SANDBOX_FAILING_FOR = timedelta(minutes=20)


@dataclass(frozen=True)
class NodeSpec:
    """One node: the addresses on each of its ENIs (primary included) and what runs on it."""

    subnet: int  # index into the cluster's subnets
    eni_addresses: Sequence[int]
    pods: int
    instance_type: str = "m5.8xlarge"
    finished_pods: int = 0  # Succeeded job pods: they hold no address
    # Pods scheduled here whose sandbox fails for want of an address: Pending, no IP, and a
    # FailedCreatePodSandBox event each (`failed to assign an IP address to container`).
    pending_pods: int = 0
    registered: bool = True  # joined Kubernetes
    # The instance's tags; None: the `eks:cluster-name` tag EKS node groups put on theirs.
    tags: Mapping[str, str] | None = None
    os: str = "linux"
    # The subnet (index) of each ENI after the primary; None: the node's own subnet for all.
    eni_subnets: Sequence[int] | None = None


@dataclass(frozen=True)
class InstanceType:
    """What a node's kubelet takes from its type: max pods and its resources."""

    max_pods: int
    vcpus: int
    memory_mib: int


@dataclass(frozen=True)
class SubnetSpec:
    cidr: str
    az: str


@dataclass
class SeededCluster:
    name: str
    vpc_id: str
    subnet_ids: list[str]
    instance_ids: list[str] = field(default_factory=list)
    kube_nodes: list[dict[str, Any]] = field(default_factory=list)
    kube_pods: list[dict[str, Any]] = field(default_factory=list)
    kube_daemonsets: list[dict[str, Any]] = field(default_factory=list)
    books: list[AddressBook] = field(default_factory=list)  # each subnet's next addresses
    node_names: list[str | None] = field(default_factory=list)  # per node; None: not joined
    kube_events: list[dict[str, Any]] = field(default_factory=list)
    eni_configs: list[dict[str, Any]] = field(default_factory=list)


class AddressBook:
    """Hands out each subnet's addresses in order, after AWS's four reserved ones."""

    def __init__(self, cidr: str) -> None:
        self._hosts = ipaddress.ip_network(cidr).hosts()
        for _ in range(3):  # .1 router, .2 DNS, .3 reserved (hosts() already skips .0)
            next(self._hosts)

    def take(self, count: int) -> list[str]:
        return [str(next(self._hosts)) for _ in range(count)]


def seed_cluster(
    session: boto3.Session,
    *,
    name: str,
    vpc_cidr: str,
    subnets: Sequence[SubnetSpec],
    nodes: Sequence[NodeSpec],
    cni_env: Mapping[str, str] | None = None,
    leaked_enis: Sequence[tuple[int, int]] = (),  # (subnet index, addresses)
    extra_cidrs: Sequence[str] = (),
    aws_node: bool = True,  # False: another CNI (no aws-node DaemonSet)
    config_subnets: Sequence[int] | None = None,  # the EKS VPC config's subnets (default: all)
    subnet_tags: Mapping[int, Mapping[str, str]] | None = None,  # more tags, per subnet index
    sharing: SeededCluster | None = None,  # a cluster whose VPC and subnets this one shares
) -> SeededCluster:
    """`subnets` describes the cluster's subnets (with `sharing`: the shared cluster's)."""
    ec2 = session.client("ec2")
    eks = session.client("eks")
    if sharing is not None:
        vpc_id, subnet_ids, books = sharing.vpc_id, list(sharing.subnet_ids), sharing.books
    else:
        vpc_id, subnet_ids, books = _new_vpc(ec2, name, vpc_cidr, subnets, extra_cidrs, subnet_tags)
    eks.create_cluster(
        name=name,
        version=KUBERNETES_VERSION,
        roleArn=f"arn:aws:iam::{_account(session)}:role/eks-cluster",
        resourcesVpcConfig={
            "subnetIds": [
                subnet_ids[i]
                for i in (range(len(subnet_ids)) if config_subnets is None else config_subnets)
            ]
        },
    )
    seeded = SeededCluster(name=name, vpc_id=vpc_id, subnet_ids=subnet_ids, books=books)
    types = _instance_types(ec2, {node.instance_type for node in nodes})
    for index, node in enumerate(nodes):
        _seed_node(ec2, seeded, books, subnets, index, node, types[node.instance_type])
    # aws-node and kube-proxy run on every Linux node, each pod owned by its DaemonSet.
    linux = [n for n in seeded.kube_nodes if n["metadata"]["labels"]["kubernetes.io/os"] == "linux"]
    daemonsets = [kube_proxy_daemonset(nodes=len(linux))]
    if aws_node:
        daemonsets.insert(0, aws_node_daemonset(dict(cni_env or {}), nodes=len(linux)))
    seeded.kube_daemonsets.extend(daemonsets)
    for kube_node in linux:
        node_name = kube_node["metadata"]["name"]
        [internal_ip] = [
            a["address"] for a in kube_node["status"]["addresses"] if a["type"] == "InternalIP"
        ]
        seeded.kube_pods.extend(daemonset_pod(ds, node_name, internal_ip) for ds in daemonsets)
    for subnet_index, count in leaked_enis:
        addresses = books[subnet_index].take(count)
        ec2.create_network_interface(
            SubnetId=subnet_ids[subnet_index],
            Description="aws-K8S-i-0deadbeefcafe0000",
            PrivateIpAddresses=_addresses(addresses),
        )
    return seeded


def _instance_types(ec2: Any, names: set[str]) -> dict[str, InstanceType]:
    """Each type as DescribeInstanceTypes gives it; max pods as the EKS AMI sets it from the
    type's real limits."""
    answer = ec2.describe_instance_types(InstanceTypes=sorted(names))["InstanceTypes"]
    return {
        item["InstanceType"]: InstanceType(
            max_pods=max_pods(parse_instance_type(item)),
            vcpus=int(item["VCpuInfo"]["DefaultVCpus"]),
            memory_mib=int(item["MemoryInfo"]["SizeInMiB"]),
        )
        for item in answer
    }


def _new_vpc(
    ec2: Any,
    name: str,
    vpc_cidr: str,
    subnets: Sequence[SubnetSpec],
    extra_cidrs: Sequence[str],
    subnet_tags: Mapping[int, Mapping[str, str]] | None,
) -> tuple[str, list[str], list[AddressBook]]:
    vpc_id: str = ec2.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
    for cidr in extra_cidrs:
        ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=cidr)
    subnet_ids = []
    for index, spec in enumerate(subnets):
        tags: list[Any] = [{"Key": f"kubernetes.io/cluster/{name}", "Value": "shared"}]
        tags += [{"Key": k, "Value": v} for k, v in (subnet_tags or {}).get(index, {}).items()]
        created = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=spec.cidr,
            AvailabilityZone=spec.az,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}],
        )
        subnet_ids.append(created["Subnet"]["SubnetId"])
    return vpc_id, subnet_ids, [AddressBook(s.cidr) for s in subnets]


def _seed_node(
    ec2: Any,
    seeded: SeededCluster,
    books: list[AddressBook],
    subnets: Sequence[SubnetSpec],
    index: int,
    node: NodeSpec,
    instance_type: InstanceType,
) -> None:
    subnet_id = seeded.subnet_ids[node.subnet]
    book = books[node.subnet]
    primary, *others = node.eni_addresses
    primary_ips = book.take(primary)
    tags = node.tags if node.tags is not None else {"eks:cluster-name": seeded.name}
    tagging: dict[str, Any] = {}
    if tags:  # EC2 refuses a tag specification without tags
        tagging["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    instance = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType=node.instance_type,
        SubnetId=subnet_id,
        PrivateIpAddress=primary_ips[0],
        **tagging,
    )["Instances"][0]
    instance_id = instance["InstanceId"]
    seeded.instance_ids.append(instance_id)
    pod_ips = primary_ips[1:]
    if len(primary_ips) > 1:
        eni_id = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        ec2.assign_private_ip_addresses(NetworkInterfaceId=eni_id, PrivateIpAddresses=pod_ips)
    for device, count in enumerate(others, start=1):
        eni_subnet = node.subnet if node.eni_subnets is None else node.eni_subnets[device - 1]
        addresses = books[eni_subnet].take(count)
        eni = ec2.create_network_interface(
            SubnetId=seeded.subnet_ids[eni_subnet],
            Description=f"aws-K8S-{instance_id}",
            PrivateIpAddresses=_addresses(addresses),
            TagSpecifications=[
                {
                    "ResourceType": "network-interface",
                    "Tags": [
                        {"Key": "node.k8s.amazonaws.com/instance_id", "Value": instance_id},
                        {"Key": "cluster.k8s.amazonaws.com/name", "Value": seeded.name},
                    ],
                }
            ],
        )["NetworkInterface"]
        ec2.attach_network_interface(
            NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance_id, DeviceIndex=device
        )
        pod_ips.extend(addresses[1:])
    if not node.registered:
        seeded.node_names.append(None)
        return
    node_name = f"ip-{primary_ips[0].replace('.', '-')}.internal"
    seeded.node_names.append(node_name)
    seeded.kube_nodes.append(
        node_object(
            node_name,
            instance_id,
            subnets[node.subnet].az,
            max_pods=instance_type.max_pods,
            internal_ip=primary_ips[0],
            instance_type=node.instance_type,
            os=node.os,
            vcpus=instance_type.vcpus,
            memory_mib=instance_type.memory_mib,
        )
    )
    if node.pods > len(pod_ips):
        raise ValueError(f"node {index}: {node.pods} pods but only {len(pod_ips)} addresses")
    for pod in range(node.pods):
        seeded.kube_pods.append(
            pod_object("default", f"app-{index}-{pod}", node_name, pod_ips[pod])
        )
    last_seen = datetime.now(UTC)
    for pod in range(node.pending_pods):
        name = f"app-{index}-pending-{pod}"
        seeded.kube_pods.append(pod_object("default", name, node_name, None, phase="Pending"))
        event = sandbox_failure_event(
            "default", name, node_name, key_time(last_seen), count=SANDBOX_RETRIES
        )
        event["firstTimestamp"] = key_time(last_seen - SANDBOX_FAILING_FOR)
        seeded.kube_events.append(event)
    for job in range(node.finished_pods):
        seeded.kube_pods.append(
            pod_object("batch", f"job-{index}-{job}", node_name, None, phase="Succeeded")
        )


def _addresses(addresses: Sequence[str]) -> Any:
    return [
        {"PrivateIpAddress": address, "Primary": position == 0}
        for position, address in enumerate(addresses)
    ]


def _account(session: boto3.Session) -> str:
    return str(session.client("sts").get_caller_identity()["Account"])


# AttachInstances takes at most 20 instance ids per call.
_ATTACH_BATCH = 20


def add_node_group(
    session: boto3.Session,
    seeded: SeededCluster,
    name: str,
    *,
    instance_type: str,
    max_size: int,
    subnets: Sequence[int] | None = None,
    nodes: Sequence[int] | None = None,
) -> str:
    """An EKS managed node group over the cluster's subnets (`subnets`: their indexes; all by
    default) whose Auto Scaling group holds its nodes (`nodes`: indexes; all by default) and
    may grow to `max_size`. moto's node group names an Auto Scaling group it never creates:
    it is created here, as EKS would, so DescribeAutoScalingGroups answers for it."""
    eks = session.client("eks")
    autoscaling = session.client("autoscaling")
    subnet_ids = [
        seeded.subnet_ids[i]
        for i in (range(len(seeded.subnet_ids)) if subnets is None else subnets)
    ]
    instance_ids = [
        seeded.instance_ids[i]
        for i in (range(len(seeded.instance_ids)) if nodes is None else nodes)
    ]
    eks.create_nodegroup(
        clusterName=seeded.name,
        nodegroupName=name,
        nodeRole=f"arn:aws:iam::{_account(session)}:role/eks-node",
        subnets=subnet_ids,
        instanceTypes=[instance_type],
        scalingConfig={"minSize": 0, "maxSize": max_size, "desiredSize": len(instance_ids)},
    )
    described = eks.describe_nodegroup(clusterName=seeded.name, nodegroupName=name)
    [group] = described["nodegroup"]["resources"]["autoScalingGroups"]
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=AMI, InstanceType=instance_type
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group["name"],
        LaunchConfigurationName=name,
        MinSize=0,
        MaxSize=max_size,
        DesiredCapacity=0,  # it launches nothing: the nodes already running are attached
        VPCZoneIdentifier=",".join(subnet_ids),
    )
    for start in range(0, len(instance_ids), _ATTACH_BATCH):
        autoscaling.attach_instances(
            InstanceIds=instance_ids[start : start + _ATTACH_BATCH],
            AutoScalingGroupName=group["name"],
        )
    return str(group["name"])
