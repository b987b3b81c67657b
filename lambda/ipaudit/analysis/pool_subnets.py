"""Where each node's pods take their addresses: its own subnet, or under custom networking the
subnet of the ENIConfig it uses.

ipamd picks a node's ENIConfig by the node's annotation or by the label ENI_CONFIG_LABEL_DEF
names; the usual (and EKS-documented) setup names one ENIConfig after each zone and points
ENI_CONFIG_LABEL_DEF at the zone label. Node labels are not collected, so a node uses the
ENIConfig named after its zone, else the only ENIConfig whose subnet lies in its zone.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipaudit.snapshot import EniConfig, Subnet


def pool_subnet_ids(
    node_subnets: Sequence[str],
    subnets: Sequence[Subnet],
    *,
    custom: bool,
    eni_configs: Sequence[EniConfig],
) -> list[str]:
    """For each node (given by its own subnet), the subnet its pod addresses come from;
    `custom`: aws-node runs custom networking."""
    if not custom or not eni_configs:
        return list(node_subnets)
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
            pools.append(by_name[zone])
        elif len(candidates) == 1:
            pools.append(candidates[0])
        else:
            pools.append(subnet_id)  # no ENIConfig to be found for its zone: its own
    return pools
