"""The audit report: what the JSON contract (docs/design.md) serializes, field for field.

Fields may be added, never renamed or dropped: outside tools read this. `report.schema.json`
beside this module is the contract as a JSON Schema, shipped with the package; a field added
here goes there too (optional, typed) and into docs/report.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from ipaudit.snapshot import InstanceTypeLimits

# Changes only if a contract field is ever renamed, dropped or retyped (which the contract
# forbids); added fields leave it as it is, and readers ignore fields they do not know.
SCHEMA_VERSION = 1

Severity = Literal["CRITICAL", "WARNING", "INFO"]
SEVERITY_RANK: dict[str, int] = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}

NetworkMode = Literal["vpc-cni", "vpc-cni-ipv6", "auto-mode", "other-cni", "unknown"]
# The subnet roles, in the order they are listed.
SUBNET_ROLES = ("nodes", "pods", "control-plane", "load-balancers")


# Who holds a subnet's used IPv4 addresses (`subnets[].addresses`), in report order; the counts
# sum to `usable - free`. docs/report.md says what each one is.
ADDRESS_OWNERS = (
    "node_primary",
    "pods",
    "warm",
    "aws_node_unknown",
    "branch",
    "fargate",
    "leaked",
    "other_clusters",
    "eks_control_plane",
    "load_balancers",
    "vpc_endpoints",
    "nat_gateways",
    "lambda",
    "other_aws_services",
    "other",
    "unseen",
)


# What holds a VPC's Network Address Usage units (`network_address_usage.units_by_owner`), with
# AWS's weights: one per IPv4/IPv6 address and per prefix on an ENI, one per ENI attached to an
# instance beyond its primary, six per Network or Gateway Load Balancer ENI (one per zone), VPC
# endpoint ENI (one per zone), NAT gateway, Lambda ENI, EFS mount target and transit gateway
# attachment.
NAU_OWNERS = (
    "addresses",
    "prefixes",
    "additional_enis",
    "load_balancers",
    "vpc_endpoints",
    "nat_gateways",
    "lambda",
    "efs",
    "transit_gateways",
)


def no_addresses() -> dict[str, int]:
    return dict.fromkeys(ADDRESS_OWNERS, 0)


@dataclass(frozen=True)
class SubnetReport:
    subnet_id: str
    cidr: str
    az: str
    usable: int
    free: int
    free_pct: float
    free_prefix_blocks: int
    roles: list[str] = field(default_factory=list)  # a subset of SUBNET_ROLES, in that order
    clusters: list[str] = field(default_factory=list)  # every audited cluster drawing on it
    addresses: dict[str, int] = field(default_factory=no_addresses)


@dataclass(frozen=True, slots=True)
class NetworkCardHolding:
    card: int  # the ENIs' NetworkCardIndex
    enis: int
    ips_held: int


@dataclass(frozen=True, slots=True)
class NodeInterface:
    """One ENI attached to a node, as DescribeNetworkInterfaces gave it: where the capacity
    model (capacity/) grows it, and whether aws-node may put pod addresses on it."""

    eni_id: str
    subnet_id: str
    device_index: int  # 0: the primary ENI, whose subnet is the node's launch subnet
    card: int  # NetworkCardIndex
    interface_type: str  # "interface", "trunk", "efa", ...
    secondary_ips: int  # private IPv4 addresses besides its primary one
    prefixes: int  # IPv4 /28 prefixes (prefix delegation)
    # aws-node (v1.22+, subnet discovery) gives no pod address on it: its subnet is tagged
    # `kubernetes.io/role/cni=0` or for another cluster.
    excluded: bool = False


@dataclass(frozen=True)
class VpcSubnet:
    """A subnet of the cluster's VPC, whatever uses it: where a subnet to tag for discovery or
    a free block for a new subnet is found."""

    subnet_id: str
    cidr: str
    az: str
    free: int  # EC2's AvailableIpAddressCount
    cni_tag: str | None = None  # its `kubernetes.io/role/cni` value; None: not tagged
    public: bool = False  # tagged `kubernetes.io/role/elb`: internet-facing load balancers


@dataclass(frozen=True, slots=True)
class NodeReport:
    instance_id: str
    instance_type: str
    subnet_id: str
    enis: int
    ips_held: int  # every private IPv4 on the node's ENIs, primaries included
    secondary_ips: int  # addresses (or 16 x prefixes) the CNI holds for pods
    pods: int | None  # None when Kubernetes was unreachable
    warm_ips: int | None
    node_name: str | None = None
    max_pods: int | None = None  # None too when DescribeInstanceTypes does not know the type
    os: str | None = None  # "linux" | "windows", from the node's label; None: not registered
    branch_enis: int = 0  # branch ENIs (security groups for pods) serving its pods
    aws_node: bool = True  # aws-node manages its addresses (warm_ips is modelled)
    # The subnet its pods take addresses from: its own, or its ENIConfig's (custom networking);
    # under subnet discovery the first of `pool_subnet_ids`.
    pool_subnet_id: str | None = None
    # Every subnet its next pod addresses may come from, in the order aws-node tries them.
    pool_subnet_ids: list[str] = field(default_factory=list)
    # Per network card (several only on multi-card types): its ENIs and the addresses they hold.
    network_cards: list[NetworkCardHolding] = field(default_factory=list)
    group: str | None = None  # the managed node group or Karpenter NodePool it belongs to
    # Its ENIs (branch ENIs apart), in card and device order; empty in reports before them.
    interfaces: list[NodeInterface] = field(default_factory=list)


@dataclass(frozen=True)
class LeakedEni:
    eni_id: str
    subnet_id: str
    ips: int


@dataclass(frozen=True)
class SubnetChange:
    """A pool subnet's free addresses now and once the recommendation is applied."""

    subnet_id: str
    free_now: int
    free_after: int


@dataclass(frozen=True)
class Recommendation:
    settings: dict[str, str]
    projected_ips_held: int
    ips_returned: int
    command: str
    rationale: str
    current_ips_held: int | None = None
    kind: str = "tune"  # "tune" | "keep" | "structural" | "not-modelled"
    # Per pool subnet (where the modelled nodes' pods take addresses), free now and after.
    subnets: list[SubnetChange] = field(default_factory=list)
    # Network Address Usage units of the VPC the change gives back (negative: takes), by the
    # same simulation: one per address under WARM_IP_TARGET, one per /28 under prefix
    # delegation; None: not counted (no change, or reports before it).
    units_returned: int | None = None


@dataclass(frozen=True)
class CeilingZone:
    """One zone of a node group or NodePool: what its subnets can still give new nodes.

    A new node takes `need_launch` addresses in the zone's launch subnets and `need_pool` in
    its pool subnets (custom networking, subnet discovery; 0 when its pods draw where it
    launches); under prefix delegation its prefixes need `need_prefix_blocks` free /28 blocks
    where they land. `free_*` are this group's share of the free addresses and blocks (a
    subnet several groups or clusters draw on is split, never counted twice)."""

    az: str
    launch_subnet_ids: list[str]
    pool_subnet_ids: list[str] = field(default_factory=list)  # besides the launch subnets
    free_launch: int = 0  # summed over its launch subnets (each counted alone below)
    free_pool: int | None = None  # None: its pods draw in the launch subnets
    free_prefix_blocks: int | None = None  # None: no prefix delegation
    need_launch: int = 0
    need_pool: int = 0
    need_prefix_blocks: int = 0
    nodes_possible: int = 0  # new nodes the zone starts, launched one by one (capacity/)
    # Of those, how many each launch subnet starts: a node lands in one subnet, never a sum.
    nodes_by_subnet: dict[str, int] = field(default_factory=dict)
    free_by_subnet: dict[str, int] = field(default_factory=dict)  # each launch subnet's free


@dataclass(frozen=True)
class PodRoom:
    """Pods that still fit on a group's nodes drawing on one pool: per node the pods kubelet
    still admits (max pods - 2 - pods), taken first from its warm addresses, then from what
    aws-node can still add on its ENI slots; those last are bounded by the pool's free."""

    pool_subnet_ids: list[str]
    nodes: int
    pods_on_held: int  # sum of min(kubelet room, warm_ips)
    pods_needing_addresses: int  # the rest of the kubelet room its ENI slots could address
    free: int  # the pool's free addresses (16 per free /28 block under prefix delegation)
    pods_fit: int  # pods_on_held + min(pods_needing_addresses, free)


@dataclass(frozen=True)
class Ceiling:
    """How far a managed node group or Karpenter NodePool can still grow (docs/report.md "Scale
    ceilings"): every number its answer is counted from is here."""

    group: str
    kind: str  # "nodegroup" | "nodepool"
    subnet_ids: list[str]  # where it launches nodes
    instance_types: list[str]  # the types it may launch
    current_nodes: int
    max_size: int | None = None  # the Auto Scaling group's MaxSize (node groups)
    pool_limits: dict[str, str] = field(default_factory=dict)  # the NodePool's spec.limits
    zones: list[CeilingZone] = field(default_factory=list)
    read_notes: list[str] = field(default_factory=list)  # what could be read only in part
    modelled: bool = False  # False: the CNI model does not apply; `note` says why
    instance_type: str | None = None  # of `instance_types`, the largest start-up need
    startup_need: int | None = None  # addresses a new node of it holds before any pod
    startup_prefixes: int = 0  # of which /28 prefixes (prefix delegation)
    max_nodes: int | None = None  # None: no limit
    limit: str = ""  # what sets max_nodes, with its numbers
    nodes_wanted: int | None = None  # max_nodes - current_nodes; None: no limit
    nodes_possible: int | None = None  # new nodes the subnets can start (at most wanted)
    first_zone_out: str | None = None
    pods_fit_now: int | None = None  # on the nodes that exist now
    pods: list[PodRoom] = field(default_factory=list)
    severity: str | None = None  # CRITICAL: cannot add one node; WARNING: cannot reach max
    note: str = ""


@dataclass(frozen=True)
class NauPeer:
    """A VPC peered with this one in the same region: its units join the peered total."""

    vpc_id: str
    account_id: str
    units: int | None  # None: its account or region is not audited, so not counted


@dataclass(frozen=True)
class NetworkAddressUsage:
    """The cluster's VPC against its Network Address Usage quotas (README "Network Address
    Usage"): units counted from every ENI in the VPC as AWS's "How NAU is calculated" table
    weighs them. Several clusters in one VPC each carry the same figures."""

    vpc_id: str
    units: int
    quota: int
    quota_source: str  # "applied" (Service Quotas) | "default" (AWS's, not read)
    free: int  # quota - units (negative past the quota)
    free_pct: float
    # Units by what holds them (NAU_OWNERS); they sum to `units`.
    units_by_owner: dict[str, int] = field(default_factory=dict)
    # Units aws-node's warm pools hold in this VPC (every audited cluster in it): one per warm
    # address, one per wholly idle /28 under prefix delegation; None: no pod count to judge by.
    warm_units: int | None = None
    warm_pct: float | None = None  # warm_units as a share of units
    peered_quota: int = 128_000
    peered_quota_source: str = "default"
    # This VPC's units plus its same-region peers'; None: a peer's units are unknown.
    peered_units: int | None = None
    peered_free: int | None = None
    peers: list[NauPeer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was assumed, and why


@dataclass(frozen=True)
class ClusterReport:
    account_id: str
    region: str
    name: str
    vpc_id: str
    cni: dict[str, str] | None  # None: no aws-node to read ({} is aws-node with its defaults)
    subnets: list[SubnetReport]
    nodes: list[NodeReport]
    leaked_enis: list[LeakedEni]
    ips_held: int
    pods: int | None
    warm_ips: int | None
    recommendation: Recommendation | None = None
    # What the recommender needs to run again later (with history): the node types' limits
    # from DescribeInstanceTypes, and the VPC CNI managed add-on's version (None: self-managed).
    instance_types: dict[str, InstanceTypeLimits] = field(default_factory=dict)
    vpc_cni_addon: str | None = None
    # The add-on's configuration values as DescribeAddon gave them ("" when none; None when
    # self-managed or not read): a command for the add-on must carry them all.
    vpc_cni_addon_configuration: str | None = None
    network_mode: NetworkMode = "vpc-cni"
    fargate_pods: int | None = 0  # running pods on Fargate (in `pods`); None: unknown
    vpc_cidrs: list[str] = field(default_factory=list)  # the VPC's IPv4 CIDR blocks
    cni_version: str | None = None  # aws-node's version (image tag or add-on); None: unknown
    # aws-node creates new ENIs in the subnets enhanced subnet discovery finds (v1.18+).
    subnet_discovery: bool = False
    vpc_subnets: list[VpcSubnet] = field(default_factory=list)  # every subnet of the VPC
    ceilings: list[Ceiling] = field(default_factory=list)  # node groups' and NodePools'
    # For every subnet nodes launch in (nodes' own, node groups' and NodePools'): the subnets
    # aws-node may create a node's next ENI in, in its order at audit time. Empty: refused
    # (its own subnet tagged `kubernetes.io/role/cni=0` with subnet discovery off, v1.22+).
    eni_subnets: dict[str, list[str]] = field(default_factory=dict)
    # Its VPC's Network Address Usage; None in reports before it, or when not counted.
    network_address_usage: NetworkAddressUsage | None = None

    @property
    def key(self) -> str:
        return f"{self.account_id}/{self.region}/{self.name}"


def finding_id(kind: str, account_id: str, region: str, cluster: str | None, resource: str) -> str:
    """The id a finding keeps across runs: the same problem on the same resource."""
    return ":".join((kind, account_id, region, cluster or "-", resource))


@dataclass(frozen=True)
class Finding:
    id: str  # stable across runs: the same problem on the same resource keeps its id
    severity: Severity
    kind: str
    account_id: str
    region: str
    cluster: str | None
    resource: str
    message: str
    value: float | None = None  # the measured quantity (free addresses, leaked IPs...)
    # A mute (alerts/mutes.py) keeps the finding in the report but raises no message.
    muted: bool = False
    mute_id: str | None = None
    mute_reason: str | None = None
    mute_expires_at: str | None = None  # ISO 8601, UTC
    muted_by: str | None = None


@dataclass(frozen=True)
class Coverage:
    account_id: str
    region: str
    cluster: str | None
    status: Literal["ok", "error"]
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what was audited only in part, and why


@dataclass(frozen=True)
class TargetReport:
    """One account x region's part of a report, analysed: what a fan-out batch hands on."""

    account_id: str
    region: str
    clusters: list[ClusterReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from ipaudit.report_codec import encode  # the codec reads this module's classes

        result: dict[str, Any] = encode(self)
        return result

    def to_json(self, **options: Any) -> str:
        """`json.dumps(self.to_dict(), **options)`, written without the dicts in between."""
        from ipaudit.report_codec import dumps

        return dumps(self, **options)


@dataclass(frozen=True)
class Report:
    run_id: str
    generated_at: str  # ISO 8601, UTC
    clusters: list[ClusterReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from ipaudit.report_codec import encode  # the codec reads this module's classes

        return {"schema_version": SCHEMA_VERSION, **encode(self)}

    def to_json(self, **options: Any) -> str:
        """`json.dumps(self.to_dict(), **options)`, written without the dicts in between."""
        from ipaudit.report_codec import dumps, field_values

        return dumps({"schema_version": SCHEMA_VERSION, **field_values(self)}, **options)


def json_schema() -> dict[str, Any]:
    """The report's JSON Schema (draft 2020-12), as shipped with the package."""
    schema: dict[str, Any] = json.loads(
        resources.files("ipaudit").joinpath("report.schema.json").read_text(encoding="utf-8")
    )
    return schema
