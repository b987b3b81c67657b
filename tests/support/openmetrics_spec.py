"""What every OpenMetrics series must equal, read straight from the JSON report's fields: the
README's metrics table as code. Shared by the unit tests (hand-built reports) and the integration
tests (the demo's and a seeded audit's own `--output json`).

Import as `from support.openmetrics_spec import ...`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, frozenset[tuple[str, str]]]  # name, labels
# Derived from several fields by the headroom finding's own function, specified on its own.
DERIVED = frozenset({"ipaudit_subnet_node_startup_addresses"})


def series(name: str, **labels: str) -> Series:
    return name, frozenset(labels.items())


def scraped(text: str) -> dict[Series, float]:
    """Every sample of an exposition, parsed by prometheus_client (a repeat fails)."""
    samples: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = series(sample.name, **sample.labels)
            assert key not in samples, f"a series twice: {key}"
            samples[key] = sample.value
    return samples


def from_report(report: dict[str, Any]) -> dict[Series, float]:
    """The series of the JSON report `report`, each with the value of the field it exposes;
    null fields have none."""
    expected: dict[Series, float] = {}

    def put(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            expected[series(name, **labels)] = value

    generated = datetime.fromisoformat(report["generated_at"].replace("Z", "+00:00"))
    put("ipaudit_run_timestamp_seconds", generated.timestamp())
    forecast = {
        (f["account_id"], f["region"], f["resource"]): f["value"]
        for f in report["findings"]
        if f["kind"] == "subnet_forecast"
    }
    for cluster in report["clusters"]:
        scope = {
            "account": cluster["account_id"],
            "region": cluster["region"],
            "cluster": cluster["name"],
        }
        info = {**scope, "vpc": cluster["vpc_id"], "network_mode": cluster["network_mode"]}
        put("ipaudit_cluster_info", 1, **info)
        put("ipaudit_cluster_addresses_held", cluster["ips_held"], **scope)
        put("ipaudit_cluster_pods", cluster["pods"], **scope)
        put("ipaudit_cluster_warm_addresses", cluster["warm_ips"], **scope)
        put("ipaudit_cluster_nodes", len(cluster["nodes"]), **scope)
        put("ipaudit_cluster_leaked_enis", len(cluster["leaked_enis"]), **scope)
        if (recommendation := cluster["recommendation"]) is not None:
            returned = recommendation["ips_returned"]
            put(
                "ipaudit_recommendation_addresses_returned",
                returned,
                **scope,
                kind=recommendation["kind"],
            )
        for ceiling in cluster.get("ceilings", []):
            group = {
                **scope,
                "group": ceiling["group"],
                "kind": ceiling["kind"],
                "instance_type": ceiling["instance_type"] or "",
            }
            put("ipaudit_ceiling_current_nodes", ceiling["current_nodes"], **group)
            put("ipaudit_ceiling_max_nodes", ceiling["max_nodes"], **group)
            if ceiling["modelled"]:
                put("ipaudit_ceiling_nodes", ceiling["nodes_possible"], **group)
                put("ipaudit_ceiling_pods_fit_now", ceiling["pods_fit_now"], **group)
                for zone in ceiling["zones"]:
                    put(
                        "ipaudit_ceiling_zone_nodes", zone["nodes_possible"], **group, az=zone["az"]
                    )
        if cluster.get("subnet_discovery"):
            pools: dict[str, list[int]] = {}
            for subnet in cluster["subnets"]:
                if "pods" in subnet["roles"]:
                    pools.setdefault(subnet["az"], []).append(subnet["free"])
            for zone, free in pools.items():
                if len(free) > 1:
                    put("ipaudit_pod_pool_free_addresses", sum(free), **scope, az=zone)
        if (nau := cluster.get("network_address_usage")) is not None:
            vpc = {**scope, "vpc": nau["vpc_id"]}
            put("ipaudit_vpc_network_address_usage", nau["units"], **vpc)
            put(
                "ipaudit_vpc_network_address_usage_quota",
                nau["quota"],
                **vpc,
                source=nau["quota_source"],
            )
            for owner, units in nau["units_by_owner"].items():
                if units != 0:  # an owner holding nothing has no series
                    put("ipaudit_vpc_network_address_usage_by_owner", units, **vpc, owner=owner)
            put("ipaudit_vpc_network_address_usage_warm", nau["warm_units"], **vpc)
            put("ipaudit_vpc_peered_network_address_usage", nau["peered_units"], **vpc)
            put(
                "ipaudit_vpc_peered_network_address_usage_quota",
                nau["peered_quota"],
                **vpc,
                source=nau["peered_quota_source"],
            )
        for subnet in cluster["subnets"]:
            where = {
                **scope,
                "vpc": cluster["vpc_id"],
                "subnet": subnet["subnet_id"],
                "az": subnet["az"],
            }
            put("ipaudit_subnet_free_addresses", subnet["free"], **where)
            put("ipaudit_subnet_usable_addresses", subnet["usable"], **where)
            put("ipaudit_subnet_free_prefix_blocks", subnet["free_prefix_blocks"], **where)
            for owner, count in subnet["addresses"].items():
                if count != 0:  # an owner holding nothing has no series
                    put("ipaudit_subnet_used_addresses", count, **where, owner=owner)
            for role in subnet["roles"]:
                put("ipaudit_subnet_role", 1, **where, role=role)
            days = forecast.get((cluster["account_id"], cluster["region"], subnet["subnet_id"]))
            seconds = None if days is None else days * 86400
            put("ipaudit_subnet_time_until_full_seconds", seconds, **where)
        for node in cluster["nodes"]:
            at = {
                **scope,
                "instance_id": node["instance_id"],
                "instance_type": node["instance_type"],
                "subnet": node["subnet_id"],
                "node": node["node_name"] or "",
            }
            put("ipaudit_node_addresses_held", node["ips_held"], **at)
            put("ipaudit_node_pods", node["pods"], **at)
            put("ipaudit_node_warm_addresses", node["warm_ips"], **at)
            put("ipaudit_node_max_pods", node["max_pods"], **at)
        for leak in cluster["leaked_enis"]:
            put(
                "ipaudit_leaked_eni_addresses",
                leak["ips"],
                **scope,
                eni=leak["eni_id"],
                subnet=leak["subnet_id"],
            )
    findings = Counter(
        (
            f["account_id"],
            f["region"],
            f["cluster"] or "-",
            f["kind"],
            f["severity"],
            str(f["muted"]).lower(),
        )
        for f in report["findings"]
    )
    for (account, region, cluster_name, kind, severity, muted), count in findings.items():
        put(
            "ipaudit_findings",
            count,
            account=account,
            region=region,
            cluster=cluster_name,
            kind=kind,
            severity=severity,
            muted=muted,
        )
    for f in report["findings"]:
        put(
            "ipaudit_finding",
            1,
            account=f["account_id"],
            region=f["region"],
            cluster=f["cluster"] or "-",
            kind=f["kind"],
            severity=f["severity"],
            resource=f["resource"],
            muted=str(f["muted"]).lower(),
        )
    errors = Counter[tuple[str, str]]()
    for entry in report["coverage"]:
        errors[(entry["account_id"], entry["region"])] += entry["status"] == "error"
        if entry["status"] == "error":
            put(
                "ipaudit_coverage_error",
                1,
                account=entry["account_id"],
                region=entry["region"],
                cluster=entry["cluster"] or "-",
                error=entry["error"] or "",
            )
    for (account, region), count in errors.items():
        put("ipaudit_coverage_errors", count, account=account, region=region)
    return expected


def without(samples: dict[Series, float], names: frozenset[str]) -> dict[Series, float]:
    return {key: value for key, value in samples.items() if key[0] not in names}
