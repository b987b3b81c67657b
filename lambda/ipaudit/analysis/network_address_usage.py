"""Network Address Usage in the report: each cluster's VPC counted (capacity/nau.py), and the
findings on a VPC near its own quota or, with its same-region peers, near the peered one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ipaudit.analysis.findings import subnet_finding
from ipaudit.capacity.nau import usage
from ipaudit.report import ClusterReport, Finding, NetworkAddressUsage, Severity
from ipaudit.settings import Settings
from ipaudit.snapshot import VpcNetwork

KIND = "network_address_usage"


def with_usage(
    clusters: Sequence[ClusterReport], networks: Sequence[VpcNetwork]
) -> list[ClusterReport]:
    """Every cluster with its VPC's units, quota and warm share (its peered total comes once
    every target is counted: `capacity.nau.with_peers`)."""
    by_vpc = {n.vpc_id: n for n in networks}
    result = []
    for cluster in clusters:
        network = by_vpc.get(cluster.vpc_id)
        if network is None:
            result.append(cluster)
            continue
        neighbours = [c for c in clusters if c.vpc_id == cluster.vpc_id]
        result.append(replace(cluster, network_address_usage=usage(network, neighbours)))
    return result


def _severity(free: int, quota: int, settings: Settings) -> tuple[Severity, str] | None:
    pct = 100.0 * free / quota if quota else 0.0
    if pct < settings.crit_free_pct:
        return "CRITICAL", f"below {settings.crit_free_pct:g}%"
    if pct < settings.warn_free_pct:
        return "WARNING", f"below {settings.warn_free_pct:g}%"
    return None


def _quota_words(value: int, source: str) -> str:
    said = "applied in Service Quotas" if source == "applied" else "AWS's default, not read"
    return f"{value:,} ({said})"


def _warm_words(nau: NetworkAddressUsage) -> str:
    if nau.warm_units is None or not nau.warm_units:
        return ""
    return (
        f"; aws-node's warm pools hold {nau.warm_units:,} of them ({nau.warm_pct:g}%): "
        "WARM_IP_TARGET returns one unit per address, prefix delegation holds one per /28"
    )


def usage_findings(clusters: Sequence[ClusterReport], settings: Settings) -> list[Finding]:
    """One finding per VPC near its quota, and one per VPC whose peered total is near the
    peered quota: the cluster's when one audited cluster is in the VPC, else nobody's (the
    message names them all), as a shared subnet's."""
    found: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    for cluster in clusters:
        nau = cluster.network_address_usage
        if nau is None or (cluster.account_id, cluster.region, nau.vpc_id) in seen:
            continue
        seen.add((cluster.account_id, cluster.region, nau.vpc_id))
        names = sorted(
            c.name
            for c in clusters
            if (c.account_id, c.region, c.vpc_id)
            == (cluster.account_id, cluster.region, nau.vpc_id)
        )
        also = f"; clusters in it: {', '.join(names)}" if len(names) > 1 else ""
        own = _severity(nau.free, nau.quota, settings)
        if own is not None:
            severity, why = own
            message = (
                f"VPC {nau.vpc_id} uses {nau.units:,} Network Address Usage units of its quota "
                f"{_quota_words(nau.quota, nau.quota_source)}: {nau.free:,} free "
                f"({nau.free_pct:g}%), {why}; past it RunInstances, AttachNetworkInterface and "
                f"AssignPrivateIpAddresses fail (NetworkAddressUsageLimitExceeded)"
                f"{_warm_words(nau)}{also}"
            )
            found.append(
                subnet_finding(
                    "network_address_usage",
                    severity,
                    cluster,
                    nau.vpc_id,
                    message,
                    float(nau.free),
                    names,
                )
            )
        if nau.peered_units is None or nau.peered_free is None or not nau.peers:
            continue
        peered = _severity(nau.peered_free, nau.peered_quota, settings)
        if peered is None:
            continue
        severity, why = peered
        peers = ", ".join(f"{p.vpc_id} {p.units:,}" for p in nau.peers if p.units is not None)
        message = (
            f"VPC {nau.vpc_id} and its same-region peers use {nau.peered_units:,} Network "
            f"Address Usage units together ({nau.vpc_id} {nau.units:,}; {peers}) of the peered "
            f"quota {_quota_words(nau.peered_quota, nau.peered_quota_source)}: "
            f"{nau.peered_free:,} free, {why}; past it the same calls fail "
            f"(NetworkAddressUsagePeeredLimitExceeded) in every VPC of the group{also}"
        )
        found.append(
            subnet_finding(
                "peered_network_address_usage",
                severity,
                cluster,
                nau.vpc_id,
                message,
                float(nau.peered_free),
                names,
            )
        )
    return found
