"""Leaked CNI ENIs: detached interfaces aws-node created and never cleaned up."""

from __future__ import annotations

from collections.abc import Iterable

from ipaudit.analysis.nodes import ADDRESSES_PER_PREFIX
from ipaudit.report import LeakedEni
from ipaudit.snapshot import Eni

CNI_DESCRIPTION_PREFIX = "aws-K8S-"
CNI_NODE_TAG = "node.k8s.amazonaws.com/instance_id"
CNI_CLUSTER_TAG = "cluster.k8s.amazonaws.com/name"


def is_cni_eni(eni: Eni) -> bool:
    return eni.description.startswith(CNI_DESCRIPTION_PREFIX) or CNI_NODE_TAG in eni.tags


def leaked_enis(cluster_name: str, enis: Iterable[Eni]) -> list[LeakedEni]:
    """CNI ENIs in `available` state, unless their tags say they belong to another cluster."""
    leaked = []
    for eni in enis:
        if eni.status != "available" or not is_cni_eni(eni):
            continue
        if eni.tags.get(CNI_CLUSTER_TAG, cluster_name) != cluster_name:
            continue
        ips = len(eni.private_ips) + ADDRESSES_PER_PREFIX * len(eni.prefixes)
        leaked.append(LeakedEni(eni_id=eni.eni_id, subnet_id=eni.subnet_id, ips=ips))
    return sorted(leaked, key=lambda leak: leak.eni_id)
