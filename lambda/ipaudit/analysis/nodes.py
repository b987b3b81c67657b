"""Per node: the addresses its ENIs hold versus the pods that use them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from ipaudit.report import NodeReport
from ipaudit.snapshot import Eni, Instance, KubePod, KubeView

ADDRESSES_PER_PREFIX = 16
_FINISHED = frozenset({"Succeeded", "Failed"})


def holds_vpc_address(pod: KubePod) -> bool:
    """A pod that occupies one of the node's warm-pool addresses."""
    return not pod.host_network and pod.phase not in _FINISHED and bool(pod.pod_ip)


def pods_per_node(kube: KubeView) -> Counter[str]:
    return Counter(p.node_name for p in kube.pods if p.node_name and holds_vpc_address(p))


def node_report(
    instance: Instance,
    attached: Iterable[Eni],
    *,
    node_name: str | None,
    pods: int | None,
    max_pods: int | None,
) -> NodeReport:
    """One node from the ENIs attached to it."""
    attached = list(attached)
    primaries = sum(1 for eni in attached if eni.private_ips)
    secondary = sum(
        max(0, len(eni.private_ips) - 1) + ADDRESSES_PER_PREFIX * len(eni.prefixes)
        for eni in attached
    )
    return NodeReport(
        instance_id=instance.instance_id,
        instance_type=instance.instance_type,
        subnet_id=instance.subnet_id,
        enis=len(attached),
        ips_held=primaries + secondary,
        secondary_ips=secondary,
        pods=pods,
        warm_ips=None if pods is None else secondary - pods,
        node_name=node_name,
        max_pods=max_pods,
    )


def node_reports(
    instances: Iterable[Instance], enis: Iterable[Eni], kube: KubeView | None
) -> list[NodeReport]:
    # Grouped once: a 1000-node cluster must not scan every ENI for every node.
    by_attachment: defaultdict[str, list[Eni]] = defaultdict(list)
    for eni in enis:
        if eni.instance_id is not None:
            by_attachment[eni.instance_id].append(eni)
    by_instance: Mapping[str, tuple[str, int | None]] = {}
    counts: Counter[str] = Counter()
    if kube is not None:
        by_instance = {
            n.instance_id: (n.name, n.max_pods) for n in kube.nodes if n.instance_id is not None
        }
        counts = pods_per_node(kube)
    reports = []
    for instance in instances:
        node_name, max_pods = by_instance.get(instance.instance_id, (None, None))
        # A node not (or no longer) registered runs no pods but may still hold addresses.
        pods = None if kube is None else (counts[node_name] if node_name else 0)
        reports.append(
            node_report(
                instance,
                by_attachment[instance.instance_id],
                node_name=node_name,
                pods=pods,
                max_pods=max_pods,
            )
        )
    return reports
