"""One cluster's report: subnets, nodes, leaked ENIs and the totals, from its snapshot."""

from __future__ import annotations

from ipaudit.analysis.leaks import leaked_enis
from ipaudit.analysis.nodes import node_reports
from ipaudit.analysis.subnets import subnet_report
from ipaudit.report import ClusterReport
from ipaudit.snapshot import Cluster


def analyze_cluster(cluster: Cluster) -> ClusterReport:
    nodes = node_reports(cluster.instances, cluster.enis, cluster.kube)
    pods = None if cluster.kube is None else sum(n.pods or 0 for n in nodes)
    warm = None if cluster.kube is None else sum(n.warm_ips or 0 for n in nodes)
    return ClusterReport(
        account_id=cluster.account_id,
        region=cluster.region,
        name=cluster.name,
        vpc_id=cluster.vpc_id,
        cni=dict(cluster.kube.cni_env) if cluster.kube is not None else {},
        subnets=[subnet_report(s, cluster.enis) for s in cluster.subnets],
        nodes=nodes,
        leaked_enis=leaked_enis(cluster.name, cluster.enis),
        ips_held=sum(n.ips_held for n in nodes),
        pods=pods,
        warm_ips=warm,
        instance_types=dict(cluster.instance_types),
        vpc_cni_addon=cluster.vpc_cni_addon,
        vpc_cni_addon_configuration=cluster.vpc_cni_addon_configuration,
    )
