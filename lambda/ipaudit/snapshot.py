"""What the collectors saw: plain, frozen data with no clients inside.

Collectors (`ipaudit.aws`, `ipaudit.kube`) produce these; analysis, the CNI model and the
recommender consume them and never talk to AWS or Kubernetes themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CidrReservation:
    """A subnet CIDR reservation: `explicit` ranges are kept from EC2's own assignment,
    `prefix` ranges are kept for /28 prefixes (so still available to prefix delegation)."""

    cidr: str
    kind: str  # "explicit" | "prefix"


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    cidr: str  # "" for an IPv6-only subnet: it has no IPv4 to run out of
    az: str
    available_ips: int  # EC2's AvailableIpAddressCount
    tags: Mapping[str, str] = field(default_factory=dict)
    ipv6_cidrs: tuple[str, ...] = ()
    reservations: tuple[CidrReservation, ...] = ()

    @property
    def ipv6_only(self) -> bool:
        return not self.cidr


@dataclass(frozen=True, slots=True)
class Eni:
    eni_id: str
    subnet_id: str
    vpc_id: str
    status: str  # "in-use" | "available" | ...
    description: str
    interface_type: str  # "interface", "trunk", "branch", "efa", ...
    private_ips: tuple[str, ...]  # primary first
    prefixes: tuple[str, ...] = ()  # IPv4 /28 prefixes (prefix delegation)
    instance_id: str | None = None
    device_index: int | None = None
    network_card_index: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    requester_managed: bool = False  # created by an AWS service on the owner's behalf
    requester_id: str = ""  # who created it (an AWS service's principal or account)
    attached: bool = True  # EC2 gave an Attachment (an AWS service's ENI has one, no instance)
    # IPv6 addresses and prefixes on it: each is one Network Address Usage unit too.
    ipv6_addresses: int = 0
    ipv6_prefixes: int = 0

    @property
    def primary_ip(self) -> str | None:
        return self.private_ips[0] if self.private_ips else None


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    instance_type: str
    subnet_id: str
    vpc_id: str
    private_ip: str
    state: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceTypeLimits:
    """An instance type's networking limits, as DescribeInstanceTypes reports them."""

    instance_type: str
    max_enis: int  # network card 0 / default card's maximum
    ipv4_per_eni: int
    vcpus: int
    hypervisor: str  # "nitro", "xen" or "" (bare metal)
    bare_metal: bool = False
    # Maximum ENIs of each network card, in card order (multi-card types: several).
    network_cards: tuple[int, ...] = ()
    memory_mib: int = 0  # MemoryInfo.SizeInMiB (0: not read): Karpenter's memory limits

    @property
    def supports_prefix_delegation(self) -> bool:
        # ipamd enables prefix delegation only on Nitro or bare metal (IsPrefixDelegationSupported).
        return self.hypervisor == "nitro" or self.bare_metal

    @property
    def takes_trunk_eni(self) -> bool:
        """Whether security groups for pods put a trunk ENI on it. Only Nitro and bare-metal
        instances can trunk; the VPC resource controller's finer list (no t-family) is not
        something EC2 reports, so the model reserves the slot on every Nitro type, as ipamd
        does for a type it does not know (IsTrunkingCompatible)."""
        return self.supports_prefix_delegation


@dataclass(frozen=True, slots=True)
class KubeNode:
    name: str
    instance_id: str | None  # from spec.providerID aws:///<az>/<instance-id>
    max_pods: int | None  # status.capacity.pods
    unschedulable: bool = False
    os: str | None = None  # the `kubernetes.io/os` label: "linux" | "windows"
    fargate: bool = False  # `eks.amazonaws.com/compute-type: fargate`: one pod, its own ENI
    node_pool: str | None = None  # the `karpenter.sh/nodepool` label: the NodePool that made it


@dataclass(frozen=True, slots=True)
class KubePod:
    namespace: str
    name: str
    node_name: str | None
    phase: str
    host_network: bool
    pod_ip: str | None


@dataclass(frozen=True)
class EniConfig:
    name: str
    subnet_id: str
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxFailure:
    """A `FailedCreatePodSandBox` event: a pod whose sandbox (and so its address) failed."""

    namespace: str
    pod: str
    node_name: str | None
    last_seen: str  # ISO 8601, UTC
    count: int
    message: str


@dataclass(frozen=True)
class SubnetSelectorTerm:
    """One of an EC2NodeClass's `subnetSelectorTerms`: every tag must match (`*`: any value),
    or the subnet id is the one named. Terms are alternatives."""

    tags: Mapping[str, str] = field(default_factory=dict)
    subnet_id: str = ""


@dataclass(frozen=True)
class NodePool:
    """A Karpenter NodePool (`karpenter.sh/v1`) and where its EC2NodeClass launches nodes."""

    name: str
    node_class: str  # spec.template.spec.nodeClassRef.name
    limits: Mapping[str, str] = field(default_factory=dict)  # spec.limits as written
    # `node.kubernetes.io/instance-type` In values of its requirements (empty: not pinned).
    instance_types: tuple[str, ...] = ()
    subnet_selector: tuple[SubnetSelectorTerm, ...] = ()
    node_class_found: bool = True  # False: no EC2NodeClass of that name was listed
    # `topology.kubernetes.io/zone` In values of its requirements (empty: any zone).
    zones: tuple[str, ...] = ()
    # `karpenter.k8s.aws/instance-family` and `-size` In values (used when no type is pinned).
    families: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()

    @property
    def named_types(self) -> tuple[str, ...]:
        """The instance types it may launch, as named: pinned ones, else every family x size
        its requirements allow (a family with no size named cannot be spelled out)."""
        if self.instance_types:
            return self.instance_types
        return tuple(f"{f}.{s}" for f in self.families for s in self.sizes)


@dataclass(frozen=True)
class KubeView:
    """What the cluster's Kubernetes API told us."""

    nodes: tuple[KubeNode, ...]
    pods: tuple[KubePod, ...]
    cni_env: Mapping[str, str]  # the aws-node container's env, only what is set
    eni_configs: tuple[EniConfig, ...] = ()
    api_calls: int = 0  # how many requests it took, to keep it constant as nodes grow
    aws_node: bool = True  # the kube-system/aws-node DaemonSet exists
    sandbox_failures: tuple[SandboxFailure, ...] = ()
    aws_node_image: str | None = None  # the aws-node container's image (its tag: the version)
    karpenter: bool = False  # the karpenter.sh NodePool API answered (404: no Karpenter)
    node_pools: tuple[NodePool, ...] = ()
    # Why NodePools or EC2NodeClasses could not be read (the API refused): a coverage note.
    karpenter_error: str | None = None
    # What the lists held that could not be counted (a pod with a null spec): coverage notes.
    read_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealthIssue:
    """One of DescribeCluster's `health.issues`."""

    code: str
    message: str
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeGroup:
    """An EKS managed node group: where it launches nodes, and how far it may grow."""

    name: str
    instance_types: tuple[str, ...]  # DescribeNodegroup's (empty: set by a launch template)
    subnet_ids: tuple[str, ...]
    # Its Auto Scaling group's MaxSize and instances (DescribeAutoScalingGroups); None: the
    # group was not found, and scalingConfig's maxSize stands in.
    max_size: int | None
    instance_ids: tuple[str, ...] = ()
    desired_size: int | None = None
    asg_found: bool = True


@dataclass(frozen=True)
class Cluster:
    """One EKS cluster and everything in its VPC that matters for pod addresses."""

    account_id: str
    region: str
    name: str
    arn: str
    vpc_id: str
    endpoint: str | None
    config_subnet_ids: tuple[str, ...]
    subnets: tuple[Subnet, ...]  # the cluster's subnets (config, tagged, where nodes/ENIs live)
    enis: tuple[Eni, ...]  # every ENI in the cluster's subnets
    instances: tuple[Instance, ...]  # the cluster's nodes
    instance_types: Mapping[str, InstanceTypeLimits]
    kube: KubeView | None  # None when the API was unreachable or refused us
    kube_error: str | None = None
    nodegroups: tuple[str, ...] = ()
    vpc_cni_addon: str | None = None  # the managed add-on's version, None when self-managed
    # Its configurationValues as DescribeAddon gave them (JSON or YAML, "" when none).
    vpc_cni_addon_configuration: str | None = None
    ip_family: str = "ipv4"  # kubernetesNetworkConfig.ipFamily
    auto_mode: bool = False  # computeConfig.enabled: EKS Auto Mode runs the nodes' networking
    health_issues: tuple[HealthIssue, ...] = ()
    node_subnet_ids: tuple[str, ...] = ()  # node groups' and Karpenter-discovered subnets
    unknown_instance_types: tuple[str, ...] = ()  # DescribeInstanceTypes does not know them
    vpc_cidrs: tuple[str, ...] = ()  # the VPC's IPv4 CIDR blocks (DescribeVpcs)
    # Every subnet of the VPC: where subnet discovery may take pod addresses, and room to tag.
    vpc_subnets: tuple[Subnet, ...] = ()
    node_groups: tuple[NodeGroup, ...] = ()  # managed node groups, with their ASGs' sizes


@dataclass(frozen=True)
class QuotaReading:
    """A Service Quotas value for this account and region, and where it came from."""

    value: int
    source: str  # "applied": GetServiceQuota answered; "default": AWS's default, unread
    note: str | None = None  # why the default stands (the error, one line), when it does


@dataclass(frozen=True)
class VpcPeering:
    """An active peering of a VPC with another in the same region (DescribeVpcPeeringConnections):
    the pair shares the peered Network Address Usage quota. Cross-region peerings do not."""

    peering_id: str
    peer_vpc_id: str
    peer_account_id: str
    peer_region: str


@dataclass(frozen=True)
class VpcNetwork:
    """Everything one VPC's Network Address Usage is counted from: every ENI in it (what the
    audit already reads), its quotas and its same-region peerings."""

    vpc_id: str
    enis: tuple[Eni, ...]
    quota: QuotaReading
    peered_quota: QuotaReading
    peerings: tuple[VpcPeering, ...] = ()
    peerings_error: str | None = None  # DescribeVpcPeeringConnections failed: peers unknown
    # The ENIs of peers this account owns (read here, as the VPC's own are): their units.
    peer_enis: Mapping[str, tuple[Eni, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetSnapshot:
    """One account x region."""

    account_id: str
    region: str
    clusters: tuple[Cluster, ...] = ()
    error: str | None = None  # the whole target failed (role not assumable, region errors)
    notes: tuple[str, ...] = ()  # what was read only in part (no CIDR reservations, say)
    # Clusters that could not be audited at all: (name, one-line error) each.
    cluster_errors: tuple[tuple[str, str], ...] = ()
    # Every VPC that holds an audited cluster: its Network Address Usage inputs.
    vpcs: tuple[VpcNetwork, ...] = ()
