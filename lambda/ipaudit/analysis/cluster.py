"""One cluster's report: subnets (with who holds their addresses), nodes, leaked ENIs and the
totals, from its snapshot and what the other clusters of its account x region own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ipaudit.analysis.attribution import ClusterLens, attribute
from ipaudit.analysis.ceilings import group_shapes, node_groups_of, solve
from ipaudit.analysis.eni_kinds import VPC_RC_TRUNK_TAG, tagged_cluster
from ipaudit.analysis.leaks import is_leaked, leaked_enis
from ipaudit.analysis.network_mode import (
    aws_node_instances,
    cni_version,
    custom_networking,
    network_mode,
    subnet_discovery,
)
from ipaudit.analysis.nodes import node_reports
from ipaudit.analysis.pod_addresses import PodAddresses
from ipaudit.analysis.pool_subnets import pool_subnet_ids
from ipaudit.analysis.roles import node_subnets, pod_subnets, subnet_roles
from ipaudit.analysis.subnets import subnet_report
from ipaudit.cni.subnet_discovery import DISCOVERY_TAG, excluded
from ipaudit.report import ClusterReport, VpcSubnet
from ipaudit.snapshot import Cluster, Eni


@dataclass(frozen=True)
class TargetView:
    """What every audited cluster of one account x region owns, so each cluster's report can
    tell its own addresses from its neighbours' in a shared subnet."""

    owners: Mapping[str, str] = field(default_factory=dict)  # ENI id -> cluster
    leaked: frozenset[str] = frozenset()  # every leaked ENI id
    leak_reporter: Mapping[str, str] = field(default_factory=dict)  # ENI id -> reporting cluster
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # subnet -> clusters
    # cluster -> its running pods' addresses (None: Kubernetes unreachable), read once for
    # the ownership here and the cluster's own report
    running: Mapping[str, PodAddresses | None] = field(default_factory=dict)


def running_pods(cluster: Cluster) -> PodAddresses | None:
    kube = cluster.kube
    if kube is None:
        return None
    return PodAddresses.of(kube.pods, frozenset(n.name for n in kube.nodes if n.fargate))


def target_view(clusters: Sequence[Cluster], now: datetime | None = None) -> TargetView:
    instance_owner = {i.instance_id: c.name for c in clusters for i in c.instances}
    enis = {e.eni_id: e for c in clusters for e in c.enis}
    owners: dict[str, str] = {}
    for eni in enis.values():
        owner = instance_owner.get(eni.instance_id or "") or tagged_cluster(eni)
        if owner:
            owners[eni.eni_id] = owner
    for eni in enis.values():  # a branch ENI belongs to its trunk's cluster
        if eni.eni_id not in owners and VPC_RC_TRUNK_TAG in eni.tags:
            trunk_owner = owners.get(eni.tags[VPC_RC_TRUNK_TAG])
            if trunk_owner:
                owners[eni.eni_id] = trunk_owner
    running = {cluster.name: running_pods(cluster) for cluster in clusters}
    for cluster in clusters:
        pods = running[cluster.name]
        fargate = frozenset() if pods is None else pods.fargate_ips
        for eni in cluster.enis if fargate else ():
            if fargate.intersection(eni.private_ips):
                owners.setdefault(eni.eni_id, cluster.name)
    users: defaultdict[str, list[str]] = defaultdict(list)
    for cluster in sorted(clusters, key=lambda c: c.name):
        for subnet in cluster.subnets:
            users[subnet.subnet_id].append(cluster.name)
    leaked = frozenset(e.eni_id for e in enis.values() if is_leaked(e, now))
    # An untagged leaked ENI in a shared subnet is reported once, by the first cluster there.
    reporter = {
        eni_id: tagged_cluster(enis[eni_id]) or users[enis[eni_id].subnet_id][0]
        for eni_id in leaked
        if tagged_cluster(enis[eni_id]) or users.get(enis[eni_id].subnet_id)
    }
    return TargetView(
        owners=owners,
        leaked=leaked,
        leak_reporter=reporter,
        users={k: tuple(v) for k, v in users.items()},
        running=running,
    )


def analyze_cluster(
    cluster: Cluster, view: TargetView | None = None, now: datetime | None = None
) -> ClusterReport:
    view = view if view is not None else target_view([cluster], now)
    aws_node = aws_node_instances(cluster)
    kube = cluster.kube
    pod_addresses = (
        view.running[cluster.name] if cluster.name in view.running else running_pods(cluster)
    )
    launch = sorted({i.subnet_id for i in cluster.instances})
    nodes = node_reports(
        cluster.instances,
        cluster.enis,
        kube,
        aws_node_instances=aws_node,
        known_types=cluster.instance_types.keys(),
        pod_addresses=pod_addresses,
        excluded=excluded_subnets(cluster),
        pools=dict(zip(launch, cluster_pools(cluster, launch), strict=True)),
        groups=node_groups_of(cluster),
    )
    fargate = frozenset() if pod_addresses is None else pod_addresses.fargate_ips
    lens = ClusterLens(
        cluster=cluster.name,
        instances=frozenset(i.instance_id for i in cluster.instances),
        aws_node=aws_node,
        pods=pod_addresses,
        owners=view.owners,
        leaked=view.leaked,
        fargate_ips=fargate,
    )
    in_nodes = node_subnets(cluster)
    # Where new nodes would land draws on a pool too, before any node is there.
    drawn = {s for pool in cluster_pools(cluster, cluster.node_subnet_ids) for s in pool}
    drawn |= {s for node in nodes if node.aws_node for s in node.pool_subnet_ids}
    in_pods = pod_subnets(cluster, view.owners, drawn)
    subnets = []
    # Each subnet's ENIs, grouped once: not every ENI scanned again for every subnet.
    enis_in: defaultdict[str, list[Eni]] = defaultdict(list)
    for eni in cluster.enis:
        enis_in[eni.subnet_id].append(eni)
    for subnet in cluster.subnets:
        if subnet.ipv6_only:
            continue  # no IPv4 to run out of: the coverage entry says it was left out
        addresses, free = attribute(subnet, enis_in[subnet.subnet_id], lens)
        subnets.append(
            subnet_report(
                subnet,
                enis_in[subnet.subnet_id],
                free=free,
                roles=subnet_roles(cluster, subnet, in_nodes, in_pods),
                clusters=view.users.get(subnet.subnet_id, (cluster.name,)),
                addresses=addresses,
            )
        )
    leaks = [
        leak
        for leak in leaked_enis(cluster.name, cluster.enis, now)
        if view.leak_reporter.get(leak.eni_id, cluster.name) == cluster.name
    ]
    modelled = [n for n in nodes if n.aws_node]
    mode = network_mode(cluster)
    # Another CNI or Auto Mode keeps no warm pool the model knows: unknown, not zero.
    modelled_mode = mode in ("vpc-cni", "vpc-cni-ipv6")
    report = ClusterReport(
        account_id=cluster.account_id,
        region=cluster.region,
        name=cluster.name,
        vpc_id=cluster.vpc_id,
        cni=dict(kube.cni_env) if kube is not None and kube.aws_node else None,
        subnets=subnets,
        nodes=nodes,
        leaked_enis=leaks,
        ips_held=sum(n.ips_held for n in nodes),
        pods=None if kube is None else sum(n.pods or 0 for n in nodes) + len(fargate),
        warm_ips=None
        if kube is None or not modelled_mode
        else sum(n.warm_ips or 0 for n in modelled),
        instance_types=dict(cluster.instance_types),
        vpc_cni_addon=cluster.vpc_cni_addon,
        vpc_cni_addon_configuration=cluster.vpc_cni_addon_configuration,
        network_mode=mode,
        fargate_pods=None if kube is None else len(fargate),
        vpc_cidrs=list(cluster.vpc_cidrs),
        cni_version=_version_text(cluster),
        subnet_discovery=subnet_discovery(cluster),
        vpc_subnets=[
            VpcSubnet(
                subnet_id=s.subnet_id,
                cidr=s.cidr,
                az=s.az,
                free=s.available_ips,
                cni_tag=s.tags.get(DISCOVERY_TAG),
                public="kubernetes.io/role/elb" in s.tags,
            )
            for s in cluster.vpc_subnets
            if not s.ipv6_only
        ],
        ceilings=group_shapes(cluster, nodes, lambda launch: cluster_pools(cluster, launch)),
    )
    launch = sorted(
        {n.subnet_id for n in nodes}
        | set(cluster.node_subnet_ids)
        | {s for c in report.ceilings for z in c.zones for s in z.launch_subnet_ids}
    )
    eni_subnets = dict(zip(launch, cluster_pools(cluster, launch), strict=True))
    report = replace(report, eni_subnets=eni_subnets)
    return replace(report, ceilings=solve(report))


def excluded_subnets(cluster: Cluster) -> frozenset[str]:
    """Subnets whose ENIs give no pod address: subnet discovery's exclusion (v1.22+)."""
    if not subnet_discovery(cluster):
        return frozenset()
    version = cni_version(cluster)
    name = (cluster.kube.cni_env if cluster.kube else {}).get("CLUSTER_NAME", "")
    return frozenset(
        s.subnet_id for s in (*cluster.subnets, *cluster.vpc_subnets) if excluded(s, version, name)
    )


def cluster_pools(cluster: Cluster, launch_subnets: Sequence[str]) -> list[list[str]]:
    """For nodes launched in each of `launch_subnets`, where aws-node takes their pods'
    addresses (analysis/pool_subnets.py)."""
    return pool_subnet_ids(
        launch_subnets,
        cluster.vpc_subnets or cluster.subnets,
        custom=custom_networking(cluster),
        eni_configs=cluster.kube.eni_configs if cluster.kube is not None else (),
        discovery=subnet_discovery(cluster),
        version=cni_version(cluster),
        cluster_name=(cluster.kube.cni_env if cluster.kube else {}).get("CLUSTER_NAME", ""),
    )


def _version_text(cluster: Cluster) -> str | None:
    version = cni_version(cluster)
    return None if version is None else "v" + ".".join(map(str, version))


def analyze_target(clusters: Iterable[Cluster], now: datetime | None = None) -> list[ClusterReport]:
    clusters = list(clusters)
    view = target_view(clusters, now)
    return [analyze_cluster(c, view, now) for c in clusters]
