"""Which instances, subnets and ENIs of a VPC belong to a cluster."""

from collections.abc import Mapping

from ipaudit.audit.assemble import assemble_cluster
from ipaudit.aws.ec2 import VpcInventory
from ipaudit.aws.eks import EksCluster
from ipaudit.snapshot import (
    Eni,
    EniConfig,
    Instance,
    InstanceTypeLimits,
    KubeNode,
    KubeView,
    Subnet,
)

EKS = EksCluster(
    name="prod",
    arn="arn:aws:eks:eu-west-1:111111111111:cluster/prod",
    vpc_id="vpc-1",
    subnet_ids=("subnet-config",),
    endpoint="https://prod.example.com",
    ca_data=None,
    status="ACTIVE",
    nodegroups=("workers",),
    vpc_cni_addon="v1.19.2-eksbuild.1",
)
LIMITS = {"m5.large": InstanceTypeLimits("m5.large", 3, 10, 2, "nitro")}


def subnet(subnet_id: str, tags: Mapping[str, str] | None = None) -> Subnet:
    return Subnet(subnet_id, "vpc-1", "10.0.0.0/24", "eu-west-1a", 200, tags or {})


def instance(instance_id: str, subnet_id: str, tags: Mapping[str, str] | None = None) -> Instance:
    return Instance(instance_id, "m5.large", subnet_id, "vpc-1", "10.0.0.10", "running", tags or {})


def eni(eni_id: str, subnet_id: str, instance_id: str | None = None) -> Eni:
    return Eni(
        eni_id,
        subnet_id,
        "vpc-1",
        "in-use",
        "",
        "interface",
        ("10.0.0.9",),
        instance_id=instance_id,
    )


INVENTORY = VpcInventory(
    vpc_id="vpc-1",
    subnets=(
        subnet("subnet-config"),
        subnet("subnet-tagged", {"kubernetes.io/cluster/prod": "shared"}),
        subnet("subnet-node"),
        subnet("subnet-pods"),
        subnet("subnet-eniconfig"),
        subnet("subnet-other-team"),
    ),
    enis=(
        eni("eni-node", "subnet-node", "i-registered"),
        eni("eni-pods", "subnet-pods", "i-registered"),
        eni("eni-other", "subnet-other-team", "i-other"),
    ),
    instances=(
        instance("i-registered", "subnet-node"),
        instance("i-tagged-not-joined", "subnet-config", {"eks:cluster-name": "prod"}),
        instance("i-other", "subnet-other-team", {"eks:cluster-name": "staging"}),
    ),
)
KUBE = KubeView(
    nodes=(KubeNode("node-1", "i-registered", 29),),
    pods=(),
    cni_env={"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"},
    eni_configs=(EniConfig("eu-west-1a", "subnet-eniconfig"),),
)


def assemble(kube: KubeView | None) -> set[str]:
    cluster = assemble_cluster(
        EKS,
        account_id="111111111111",
        region="eu-west-1",
        inventory=INVENTORY,
        kube=kube,
        kube_error=None if kube else "unreachable",
        limits=LIMITS,
    )
    return {
        *(i.instance_id for i in cluster.instances),
        *(s.subnet_id for s in cluster.subnets),
        *(e.eni_id for e in cluster.enis),
    }


def test_nodes_are_registered_instances_and_instances_tagged_for_the_cluster() -> None:
    found = assemble(KUBE)
    assert {"i-registered", "i-tagged-not-joined"} <= found
    assert "i-other" not in found


def test_subnets_are_config_tagged_node_eni_and_eniconfig_subnets_only() -> None:
    found = assemble(KUBE)
    assert {s for s in found if s.startswith("subnet-")} == {
        "subnet-config",
        "subnet-tagged",
        "subnet-node",
        "subnet-pods",
        "subnet-eniconfig",
    }
    assert {e for e in found if e.startswith("eni-")} == {"eni-node", "eni-pods"}


def test_without_kubernetes_nodes_are_found_by_tag_alone() -> None:
    found = assemble(None)
    assert "i-tagged-not-joined" in found and "i-registered" not in found
    assert "subnet-eniconfig" not in found
