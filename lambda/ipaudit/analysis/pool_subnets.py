"""Where each node's pods take their addresses: the subnets aws-node creates its next ENI in.

- Custom networking: the subnet of the ENIConfig it uses. ipamd picks a node's ENIConfig by the
  node's annotation or by the label ENI_CONFIG_LABEL_DEF names; the usual (and EKS-documented)
  setup names one ENIConfig after each zone and points ENI_CONFIG_LABEL_DEF at the zone label.
  Node labels are not collected, so a node uses the ENIConfig named after its zone, else the
  only ENIConfig whose subnet lies in its zone.
- Subnet discovery (VPC CNI v1.18+, on by default): the candidate subnets of its VPC and zone,
  in ipamd's order (cni/subnet_discovery.py); its own subnet dropped when tagged
  `kubernetes.io/role/cni=0` (v1.22+).
- Otherwise: its own subnet, unless it is tagged `kubernetes.io/role/cni=0` (v1.22+ refuses
  new ENIs there with discovery off: none at all).
"""

from __future__ import annotations

from collections.abc import Sequence

from ipaudit.capacity.rules import eni_subnets_of
from ipaudit.cni.subnet_discovery import (
    TRUE_WORDS,
    Version,
    candidate_subnets,
    refused_without_discovery,
)
from ipaudit.report import ClusterReport, NodeReport, SubnetReport
from ipaudit.snapshot import EniConfig, Subnet

CUSTOM_NETWORKING = "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG"


def pool_subnet_ids(
    node_subnets: Sequence[str],
    subnets: Sequence[Subnet],
    *,
    custom: bool,
    eni_configs: Sequence[EniConfig],
    discovery: bool = False,
    version: Version | None = None,
    cluster_name: str = "",
) -> list[list[str]]:
    """For each node (given by its own subnet), the subnets its next pod addresses come from,
    in the order aws-node tries them. `subnets`: every subnet of the VPC known; `custom`:
    aws-node runs custom networking; `discovery`: it discovers subnets (and custom is off)."""
    if custom:
        return _eni_config_subnets(node_subnets, subnets, eni_configs)
    by_id = {subnet.subnet_id: subnet for subnet in subnets}
    if not discovery:
        # v1.22+ refuses a new ENI in the node's own subnet tagged `=0` when nothing else
        # may be discovered: no subnet at all.
        return [
            [] if s in by_id and refused_without_discovery(by_id[s], version) else [s]
            for s in node_subnets
        ]
    # Nodes of one launch subnet share its candidates: found once per subnet, not per node.
    found: dict[str, list[str]] = {}
    for subnet_id in dict.fromkeys(node_subnets):
        own = by_id.get(subnet_id)
        if own is None:
            found[subnet_id] = [subnet_id]  # a subnet EC2 did not describe: its own, as before
            continue
        candidates = candidate_subnets(own, subnets, version=version, cluster_name=cluster_name)
        found[subnet_id] = [s.subnet_id for s in candidates]
    return [list(found[subnet_id]) for subnet_id in node_subnets]  # a list of its own each


def _eni_config_subnets(
    node_subnets: Sequence[str], subnets: Sequence[Subnet], eni_configs: Sequence[EniConfig]
) -> list[list[str]]:
    if not eni_configs:
        return [[subnet_id] for subnet_id in node_subnets]
    zone_of = {subnet.subnet_id: subnet.az for subnet in subnets}
    by_name = {config.name: config.subnet_id for config in eni_configs}
    in_zone: dict[str, list[str]] = {}
    for config in eni_configs:
        in_zone.setdefault(zone_of.get(config.subnet_id, ""), []).append(config.subnet_id)
    pools = []
    for subnet_id in node_subnets:
        zone = zone_of.get(subnet_id, "")
        candidates = sorted(set(in_zone.get(zone, [])))
        if zone in by_name:
            pools.append([by_name[zone]])
        elif len(candidates) == 1:
            pools.append(candidates)
        else:
            pools.append([subnet_id])  # no ENIConfig to be found for its zone: its own
    return pools


def zone_candidates(cluster: ClusterReport) -> dict[str, list[str]]:
    """Per zone, every subnet a new ENI of a node launched there may go to, by id."""
    custom = (cluster.cni or {}).get(CUSTOM_NETWORKING, "") in TRUE_WORDS
    zone_of = {s.subnet_id: s.az for s in cluster.vpc_subnets}
    zone_of |= {s.subnet_id: s.az for s in cluster.subnets}
    zones: dict[str, set[str]] = {}
    for launch, found in eni_subnets_of(cluster, custom=custom).items():
        zones.setdefault(zone_of.get(launch, ""), set()).update(found)
    return {az: sorted(ids) for az, ids in zones.items()}


def discovery_pools(cluster: ClusterReport) -> dict[str, list[SubnetReport]]:
    """Under subnet discovery, each zone whose new ENIs have several subnets to go to: those
    subnets (one tagged `=0` is not among them), the pool its pods' addresses come from. Zones
    with one candidate are not listed."""
    if not cluster.subnet_discovery:
        return {}
    by_id = {s.subnet_id: s for s in cluster.subnets}
    pools = {
        az: [by_id[s] for s in ids if s in by_id] for az, ids in zone_candidates(cluster).items()
    }
    return {az: subnets for az, subnets in pools.items() if len(subnets) > 1}


def primary_excluded(node: NodeReport) -> bool:
    """Its own subnet is not among its pool subnets: tagged `kubernetes.io/role/cni=0` under
    subnet discovery, so its primary ENI gives no pod address (like custom networking)."""
    return bool(node.pool_subnet_ids) and node.subnet_id not in node.pool_subnet_ids
