"""What to say when the CNI model does not cover a cluster or some of its nodes (pure).

The model covers Linux nodes whose pod addresses aws-node hands out in IPv4 (`network_mode`
`vpc-cni`). Everything else gets `kind` `not-modelled` and what a person can do instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipaudit.report import ClusterReport, NodeReport, Recommendation
from ipaudit.words import plural

WHY_NOT = {
    "auto-mode": (
        "EKS Auto Mode runs the nodes' networking and keeps its own warm pool: aws-node settings "
        "do not apply. What helps instead: give pods their own subnets through the NodeClass "
        "(`podSubnetSelectorTerms`), size the node and pod subnets for the pods they will run, "
        "and keep whole /28 blocks free for the prefixes Auto Mode assigns with subnet CIDR "
        "reservations (`aws ec2 create-subnet-cidr-reservation --reservation-type prefix`)."
    ),
    "vpc-cni-ipv6": (
        "An IPv6 cluster gives pods IPv6 addresses from a prefix per node, with no IPv4 warm "
        "pool to tune: each node needs one IPv4 address (its primary) from its subnet. Size the "
        "subnets for the nodes, load balancers and other IPv4 users instead."
    ),
    "other-cni": (
        "There is no aws-node DaemonSet: another CNI hands out the pod addresses, and its own "
        "settings are out of scope here (Cilium in ENI mode, for one, sizes its pool with "
        "pre-allocate and max-above-watermark). The subnet headroom and address attribution "
        "above still hold."
    ),
    "unknown": (
        "Kubernetes could not be read and EKS shows no vpc-cni add-on, so which CNI hands out "
        "the pod addresses is unknown. Give the audit read access to the cluster (an EKS access "
        "entry with AmazonEKSViewPolicy) for a recommendation."
    ),
}
WINDOWS = (
    "Windows nodes get their addresses from the VPC resource controller, not aws-node: its "
    "warm pool is set in the amazon-vpc-cni ConfigMap (warm-ip-target, minimum-ip-target)."
)


def not_modelled(cluster: ClusterReport) -> Recommendation | None:
    """A `not-modelled` recommendation when nothing in the cluster is modelled; None when
    some of its nodes are."""
    reason = WHY_NOT.get(cluster.network_mode)
    if reason is None and cluster.cni is None:
        reason = WHY_NOT["other-cni"]
    if reason is None:
        if any(node.aws_node for node in cluster.nodes) or not cluster.nodes:
            return None
        reason = _unmodelled_nodes(cluster.nodes) or WHY_NOT["unknown"]
    return Recommendation(
        settings={},
        projected_ips_held=cluster.ips_held,
        ips_returned=0,
        command="",
        rationale=f"Not modelled: {reason}",
        current_ips_held=cluster.ips_held,
        kind="not-modelled",
    )


def unmodelled_note(nodes: Sequence[NodeReport]) -> str:
    """For a cluster recommended on part of its nodes: which nodes are left out, and why."""
    left_out = [node for node in nodes if not node.aws_node]
    if not left_out:
        return ""
    return (
        f" This covers the {len(nodes) - len(left_out)} nodes aws-node manages; the other "
        f"{len(left_out)} are not modelled and keep their addresses: "
        f"{_unmodelled_nodes(left_out)}"
    )


def _unmodelled_nodes(nodes: Sequence[NodeReport]) -> str:
    windows = sum(1 for node in nodes if not node.aws_node and node.os == "windows")
    others = sum(1 for node in nodes if not node.aws_node and node.os != "windows")
    parts = []
    if windows:
        parts.append(f"{plural(windows, 'Windows node')}. {WINDOWS}")
    if others:
        parts.append(
            f"{plural(others, 'node')} aws-node does not manage (EKS Auto Mode nodes, whose "
            "networking Auto Mode runs itself)."
        )
    return " ".join(parts)
