"""The report as OpenMetrics text, for Prometheus: `ipaudit audit --output openmetrics` and what
`ipaudit serve-metrics` serves.

Every figure is a gauge: an audit is a snapshot, not a running count. Names follow Prometheus'
conventions (`ipaudit_` prefix, what is counted at the end, no unit suffix on counts) and may be
added, never renamed: dashboards and alerting rules (dashboards/) read them.

Series sets, decided once for every family:
- A subnet is listed under every audited cluster drawing on it (as each cluster's `subnets` in
  the JSON report lists it), so a shared subnet has one series per `cluster` label with the same
  value; `max by (account, region, subnet)` counts it once.
- A value the report has as null (pods and warm addresses while Kubernetes was unreachable) is
  no series at all, never a 0 that would read as "no pods".
- A label the report has as null (a finding or coverage entry of no single cluster) is `-`, as
  in finding ids and mute patterns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from ipaudit.forecast.forecast_findings import KIND as FORECAST_KIND
from ipaudit.report import ClusterReport, NodeReport, Report, SubnetReport
from ipaudit.timestamps import parse_time

DAY_SECONDS = 86400.0
CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
NO_CLUSTER = "-"


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    labels: tuple[str, ...]
    unit: str = ""  # OpenMetrics' UNIT: the name then ends with `_<unit>`


# A sample: the gauge, its label values in `Gauge.labels` order, the value.
Sample = tuple[Gauge, tuple[str, ...], float]
SubnetWhere = tuple[str, str, str]  # account, region, subnet id

CLUSTER_LABELS = ("account", "region", "cluster")
SUBNET_LABELS = ("account", "region", "vpc", "subnet", "az", "cluster")
# `instance_id`, not `instance`: Prometheus sets `instance` to the scrape target on every series
# and would rename the EC2 id `exported_instance`.
NODE_LABELS = (*CLUSTER_LABELS, "instance_id", "instance_type", "subnet", "node")

SUBNET_FREE = Gauge(
    "ipaudit_subnet_free_addresses",
    "Free IPv4 addresses in the subnet (EC2 AvailableIpAddressCount)",
    SUBNET_LABELS,
)
SUBNET_USABLE = Gauge(
    "ipaudit_subnet_usable_addresses",
    "Usable IPv4 addresses in the subnet: its size minus the 5 AWS reserves",
    SUBNET_LABELS,
)
SUBNET_FREE_BLOCKS = Gauge(
    "ipaudit_subnet_free_prefix_blocks",
    "Free /28 blocks in the subnet, what prefix delegation needs",
    SUBNET_LABELS,
)
SUBNET_USED = Gauge(
    "ipaudit_subnet_used_addresses",
    "Used IPv4 addresses in the subnet by who holds them; they sum to usable minus free",
    (*SUBNET_LABELS, "owner"),
)
SUBNET_ROLE = Gauge(
    "ipaudit_subnet_role",
    "1 for each role the subnet plays for the cluster (nodes, pods, control-plane, load-balancers)",
    (*SUBNET_LABELS, "role"),
)
SUBNET_STARTUP = Gauge(
    "ipaudit_subnet_node_startup_addresses",
    "Addresses one more node of the cluster's hungriest aws-node instance type takes from the "
    "subnet at start-up; fewer free than this is a CRITICAL subnet_headroom finding",
    (*SUBNET_LABELS, "instance_type"),
)
SUBNET_UNTIL_FULL = Gauge(
    "ipaudit_subnet_time_until_full_seconds",
    "Seconds until the subnet runs out of addresses at its recent trend, when a subnet_forecast "
    "finding says so (within 14 days)",
    SUBNET_LABELS,
    unit="seconds",
)
CLUSTER_INFO = Gauge(
    "ipaudit_cluster_info",
    "1 for each audited cluster, with its VPC and network mode",
    (*CLUSTER_LABELS, "vpc", "network_mode"),
)
CLUSTER_HELD = Gauge(
    "ipaudit_cluster_addresses_held",
    "IPv4 addresses the cluster's nodes hold, ENI primaries and branch ENIs included",
    CLUSTER_LABELS,
)
CLUSTER_PODS = Gauge(
    "ipaudit_cluster_pods",
    "Running pods with a VPC address, Fargate's included (absent: Kubernetes unreachable)",
    CLUSTER_LABELS,
)
CLUSTER_WARM = Gauge(
    "ipaudit_cluster_warm_addresses",
    "Addresses aws-node holds that no running pod uses (absent: unknown or not aws-node)",
    CLUSTER_LABELS,
)
CLUSTER_NODES = Gauge("ipaudit_cluster_nodes", "Nodes found for the cluster", CLUSTER_LABELS)
CLUSTER_LEAKED = Gauge(
    "ipaudit_cluster_leaked_enis", "Leaked CNI and branch ENIs of the cluster", CLUSTER_LABELS
)
NODE_HELD = Gauge(
    "ipaudit_node_addresses_held",
    "IPv4 addresses on the node's ENIs and branch ENIs, primaries included",
    NODE_LABELS,
)
NODE_PODS = Gauge(
    "ipaudit_node_pods",
    "Running pods on the node with a VPC address: its used pod addresses (absent: unknown)",
    NODE_LABELS,
)
NODE_WARM = Gauge(
    "ipaudit_node_warm_addresses",
    "Addresses aws-node holds on the node that no running pod uses (absent: unknown)",
    NODE_LABELS,
)
NODE_MAX_PODS = Gauge(
    "ipaudit_node_max_pods", "Kubelet's max pods on the node (absent: unknown)", NODE_LABELS
)
LEAKED_ENI = Gauge(
    "ipaudit_leaked_eni_addresses",
    "IPv4 addresses a leaked ENI holds",
    (*CLUSTER_LABELS, "eni", "subnet"),
)
RECOMMENDATION_RETURNED = Gauge(
    "ipaudit_recommendation_addresses_returned",
    "Addresses the recommended aws-node settings give back",
    (*CLUSTER_LABELS, "kind"),
)
FINDING = Gauge(
    "ipaudit_finding",
    "1 for each finding, named by its resource; what the alerting rules page on (muted=true: "
    "a mute covers it and no rule pages)",
    (*CLUSTER_LABELS, "kind", "severity", "resource", "muted"),
)
FINDINGS = Gauge(
    "ipaudit_findings",
    "Findings of the run by cluster, kind, severity and whether a mute covers them",
    (*CLUSTER_LABELS, "kind", "severity", "muted"),
)
COVERAGE_ERRORS = Gauge(
    "ipaudit_coverage_errors",
    "Coverage entries in error per account and region: what could not be audited",
    ("account", "region"),
)
COVERAGE_ERROR = Gauge(
    "ipaudit_coverage_error",
    "1 for each account, region or cluster that could not be audited, with the reason",
    (*CLUSTER_LABELS, "error"),
)
CEILING_LABELS = (*CLUSTER_LABELS, "group", "kind", "instance_type")
CEILING_CURRENT = Gauge(
    "ipaudit_ceiling_current_nodes", "Nodes the node group or NodePool has now", CEILING_LABELS
)
CEILING_MAX = Gauge(
    "ipaudit_ceiling_max_nodes",
    "The most nodes it may have: the Auto Scaling group's MaxSize, or what the NodePool's "
    "limits allow (absent: no limit)",
    CEILING_LABELS,
)
CEILING_POSSIBLE = Gauge(
    "ipaudit_ceiling_nodes",
    "More nodes its subnets can still start, at most max minus current (absent: not modelled)",
    CEILING_LABELS,
)
CEILING_ZONE = Gauge(
    "ipaudit_ceiling_zone_nodes",
    "More nodes its subnets can still start in each zone (absent: not modelled)",
    (*CEILING_LABELS, "az"),
)
CEILING_PODS = Gauge(
    "ipaudit_ceiling_pods_fit_now",
    "More pods that fit on the nodes it has now (absent: not modelled)",
    CEILING_LABELS,
)
POOL_FREE = Gauge(
    "ipaudit_pod_pool_free_addresses",
    "Under subnet discovery, the free addresses of a zone whose pods draw on several subnets, "
    "all of them together",
    (*CLUSTER_LABELS, "az"),
)
# A VPC is listed under every audited cluster in it, as a shared subnet is: one series per
# `cluster` label with the same value; `max by (account, region, vpc)` counts it once.
VPC_LABELS = ("account", "region", "vpc", "cluster")
VPC_NAU = Gauge(
    "ipaudit_vpc_network_address_usage",
    "Network Address Usage units the VPC uses, counted from its ENIs with AWS's weights",
    VPC_LABELS,
)
VPC_NAU_QUOTA = Gauge(
    "ipaudit_vpc_network_address_usage_quota",
    "The VPC's Network Address Usage quota (source: applied in Service Quotas, or AWS's default)",
    (*VPC_LABELS, "source"),
)
VPC_NAU_OWNER = Gauge(
    "ipaudit_vpc_network_address_usage_by_owner",
    "The VPC's Network Address Usage units by what holds them (no series for an owner at 0)",
    (*VPC_LABELS, "owner"),
)
VPC_NAU_WARM = Gauge(
    "ipaudit_vpc_network_address_usage_warm",
    "Of the VPC's units, those aws-node's warm pools hold (absent: unknown)",
    VPC_LABELS,
)
VPC_PEERED_NAU = Gauge(
    "ipaudit_vpc_peered_network_address_usage",
    "Units of the VPC and its same-region peers together (absent: a peer's units are unknown)",
    VPC_LABELS,
)
VPC_PEERED_NAU_QUOTA = Gauge(
    "ipaudit_vpc_peered_network_address_usage_quota",
    "The peered Network Address Usage quota of the VPC and its same-region peers",
    (*VPC_LABELS, "source"),
)
RUN_TIMESTAMP = Gauge(
    "ipaudit_run_timestamp_seconds",
    "When the audit ran (the report's generated_at), in Unix seconds",
    (),
    unit="seconds",
)

# In the order they are rendered. A family with no series this run is still declared, so a
# scrape always lists every name a dashboard or rule may ask for.
REPORT_GAUGES: tuple[Gauge, ...] = (
    RUN_TIMESTAMP,
    SUBNET_FREE,
    SUBNET_USABLE,
    SUBNET_FREE_BLOCKS,
    SUBNET_USED,
    SUBNET_ROLE,
    SUBNET_STARTUP,
    SUBNET_UNTIL_FULL,
    CLUSTER_INFO,
    CLUSTER_HELD,
    CLUSTER_PODS,
    CLUSTER_WARM,
    CLUSTER_NODES,
    CLUSTER_LEAKED,
    NODE_HELD,
    NODE_PODS,
    NODE_WARM,
    NODE_MAX_PODS,
    LEAKED_ENI,
    RECOMMENDATION_RETURNED,
    CEILING_CURRENT,
    CEILING_MAX,
    CEILING_POSSIBLE,
    CEILING_ZONE,
    CEILING_PODS,
    POOL_FREE,
    VPC_NAU,
    VPC_NAU_QUOTA,
    VPC_NAU_OWNER,
    VPC_NAU_WARM,
    VPC_PEERED_NAU,
    VPC_PEERED_NAU_QUOTA,
    FINDINGS,
    FINDING,
    COVERAGE_ERRORS,
    COVERAGE_ERROR,
)


# Per-node series (four a node) are bounded per cluster: a 10,000-node cluster made 40,000
# series, 9 MB a scrape, and every node Karpenter replaced started four new ones. The nodes
# kept are the ones worth a look: the most warm addresses first. Clusters, subnets, findings
# and coverage are always complete.
DEFAULT_NODE_SERIES = 500


def render_openmetrics(report: Report, *, node_series: int | None = DEFAULT_NODE_SERIES) -> str:
    return exposition(REPORT_GAUGES, report_samples(report, node_series=node_series))


def exported_nodes(nodes: Sequence[NodeReport], limit: int | None) -> list[NodeReport]:
    """The nodes that get series: all of them up to `limit` (None: no limit), else the `limit`
    holding the most warm addresses (unknown counts last, then the most held, then by id), in
    the report's order."""
    if limit is None or len(nodes) <= limit:
        return list(nodes)
    ranked = sorted(range(len(nodes)), key=lambda i: _most_warm_first(nodes[i]))
    return [nodes[i] for i in sorted(ranked[:limit])]


def _most_warm_first(node: NodeReport) -> tuple[int, int, str]:
    warm = -1 if node.warm_ips is None else node.warm_ips
    return -warm, -(node.ips_held or 0), node.instance_id


def report_samples(
    report: Report, *, node_series: int | None = DEFAULT_NODE_SERIES
) -> list[Sample]:
    # A forecast finding names its subnet once; every cluster listing the subnet shows it.
    until_full = {
        (f.account_id, f.region, f.resource): f.value * DAY_SECONDS
        for f in report.findings
        if f.kind == FORECAST_KIND and f.value is not None
    }
    return [
        (RUN_TIMESTAMP, (), epoch_seconds(report.generated_at)),
        *(
            sample
            for cluster in report.clusters
            for sample in _cluster_samples(cluster, until_full, node_series)
        ),
        *_finding_samples(report),
        *_coverage_samples(report),
    ]


def exposition(gauges: Sequence[Gauge], samples: Iterable[Sample]) -> str:
    """OpenMetrics text: each family once, whole (the format forbids interleaving), and `# EOF`."""
    rows: dict[Gauge, list[str]] = {gauge: [] for gauge in gauges}
    for gauge, values, value in samples:
        rows[gauge].append(f"{gauge.name}{_labels(gauge.labels, values)} {_number(value)}")
    lines = []
    for gauge, series in rows.items():
        lines.append(f"# HELP {gauge.name} {_escape(gauge.help)}")
        lines.append(f"# TYPE {gauge.name} gauge")
        if gauge.unit:
            lines.append(f"# UNIT {gauge.name} {gauge.unit}")
        lines += series
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _nau_samples(cluster: ClusterReport) -> Iterator[Sample]:
    nau = cluster.network_address_usage
    if nau is None:
        return
    where = (cluster.account_id, cluster.region, nau.vpc_id, cluster.name)
    yield VPC_NAU, where, nau.units
    yield VPC_NAU_QUOTA, (*where, nau.quota_source), nau.quota
    for owner, units in nau.units_by_owner.items():
        if units:
            yield VPC_NAU_OWNER, (*where, owner), units
    if nau.warm_units is not None:
        yield VPC_NAU_WARM, where, nau.warm_units
    if nau.peered_units is not None:
        yield VPC_PEERED_NAU, where, nau.peered_units
    yield VPC_PEERED_NAU_QUOTA, (*where, nau.peered_quota_source), nau.peered_quota


def _cluster_samples(
    cluster: ClusterReport, until_full: Mapping[SubnetWhere, float], node_series: int | None
) -> Iterator[Sample]:
    scope = (cluster.account_id, cluster.region, cluster.name)
    yield CLUSTER_INFO, (*scope, cluster.vpc_id, cluster.network_mode), 1
    yield CLUSTER_HELD, scope, cluster.ips_held
    if cluster.pods is not None:
        yield CLUSTER_PODS, scope, cluster.pods
    if cluster.warm_ips is not None:
        yield CLUSTER_WARM, scope, cluster.warm_ips
    yield CLUSTER_NODES, scope, len(cluster.nodes)
    yield CLUSTER_LEAKED, scope, len(cluster.leaked_enis)
    yield from _ceiling_samples(cluster)
    # Here, not at the top: the CLI loads this module to parse its flags, the analysis only
    # when it renders (`ipaudit --help` stays quick).
    from ipaudit.analysis.pool_subnets import discovery_pools

    for zone, subnets in discovery_pools(cluster).items():
        yield POOL_FREE, (*scope, zone), sum(s.free for s in subnets)
    if cluster.recommendation is not None:
        kind = cluster.recommendation.kind
        yield RECOMMENDATION_RETURNED, (*scope, kind), cluster.recommendation.ips_returned
    yield from _subnet_samples(cluster, until_full)
    yield from _nau_samples(cluster)
    for node in exported_nodes(cluster.nodes, node_series):
        where = (*scope, node.instance_id, node.instance_type, node.subnet_id, node.node_name or "")
        yield NODE_HELD, where, node.ips_held
        for gauge, value in ((NODE_PODS, node.pods), (NODE_WARM, node.warm_ips)):
            if value is not None:
                yield gauge, where, value
        if node.max_pods is not None:
            yield NODE_MAX_PODS, where, node.max_pods
    for leak in cluster.leaked_enis:
        yield LEAKED_ENI, (*scope, leak.eni_id, leak.subnet_id), leak.ips


def _ceiling_samples(cluster: ClusterReport) -> Iterator[Sample]:
    scope = (cluster.account_id, cluster.region, cluster.name)
    for ceiling in cluster.ceilings:
        where = (*scope, ceiling.group, ceiling.kind, ceiling.instance_type or "")
        yield CEILING_CURRENT, where, ceiling.current_nodes
        if ceiling.max_nodes is not None:
            yield CEILING_MAX, where, ceiling.max_nodes
        if not ceiling.modelled:
            continue
        if ceiling.nodes_possible is not None:
            yield CEILING_POSSIBLE, where, ceiling.nodes_possible
        for zone in ceiling.zones:
            yield CEILING_ZONE, (*where, zone.az), zone.nodes_possible
        if ceiling.pods_fit_now is not None:
            yield CEILING_PODS, where, ceiling.pods_fit_now


def _subnet_samples(
    cluster: ClusterReport, until_full: Mapping[SubnetWhere, float]
) -> Iterator[Sample]:
    from ipaudit.analysis.findings import node_startup_need, subnet_demand

    # The need the headroom finding compared free addresses with, not a second reckoning.
    startup = node_startup_need(cluster, cluster.instance_types)
    for subnet in cluster.subnets:
        where = _subnet_labels(cluster, subnet)
        yield SUBNET_FREE, where, subnet.free
        yield SUBNET_USABLE, where, subnet.usable
        yield SUBNET_FREE_BLOCKS, where, subnet.free_prefix_blocks
        for owner, count in subnet.addresses.items():
            if count:  # most owners hold nothing in most subnets: no series, not a 0
                yield SUBNET_USED, (*where, owner), count
        for role in subnet.roles:
            yield SUBNET_ROLE, (*where, role), 1
        demand = subnet_demand(cluster, subnet, startup)
        if demand is not None:
            instance_type, need = demand
            yield SUBNET_STARTUP, (*where, instance_type), need
        forecast = until_full.get((cluster.account_id, cluster.region, subnet.subnet_id))
        if forecast is not None:
            yield SUBNET_UNTIL_FULL, where, forecast


def _subnet_labels(cluster: ClusterReport, subnet: SubnetReport) -> tuple[str, ...]:
    return (
        cluster.account_id,
        cluster.region,
        cluster.vpc_id,
        subnet.subnet_id,
        subnet.az,
        cluster.name,
    )


def _finding_samples(report: Report) -> Iterator[Sample]:
    counts = Counter(
        (
            f.account_id,
            f.region,
            f.cluster or NO_CLUSTER,
            f.kind,
            f.severity,
            "true" if f.muted else "false",
        )
        for f in report.findings
    )
    for values, count in counts.items():
        yield FINDINGS, values, count
    # One series per finding, whose labels are the finding's id (kind, account, region,
    # cluster, resource): one alert per finding, and a value that never changes while the
    # finding stays, so an alert neither resolves nor re-fires between audits.
    for f in report.findings:
        muted = "true" if f.muted else "false"
        where = (f.account_id, f.region, f.cluster or NO_CLUSTER)
        yield FINDING, (*where, f.kind, f.severity, f.resource, muted), 1


def _coverage_samples(report: Report) -> Iterator[Sample]:
    # Every audited account and region gets its count, 0 included: a real count, and the
    # series an alert on `> 0` needs to resolve.
    errors: Counter[tuple[str, str]] = Counter()
    for entry in report.coverage:
        errors[(entry.account_id, entry.region)] += entry.status == "error"
    for scope, count in errors.items():
        yield COVERAGE_ERRORS, scope, count
    for entry in report.coverage:
        if entry.status == "error":
            where = (entry.account_id, entry.region, entry.cluster or NO_CLUSTER)
            yield COVERAGE_ERROR, (*where, entry.error or ""), 1


def epoch_seconds(iso: str) -> float:
    return parse_time(iso).timestamp()


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(
        f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)
    )
    return "{" + pairs + "}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    # Counts stay integers on the wire ("40", not "40.0"); a fraction keeps its repr.
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))
