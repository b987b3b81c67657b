"""`--output openmetrics`: the report as OpenMetrics gauges, each equal to a JSON report field."""

from __future__ import annotations

import json
from dataclasses import replace

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as strict_openmetrics,
)
from support.openmetrics_spec import DERIVED, from_report, scraped, series, without
from support.reports import ACCOUNT, REGION, cluster, report, subnet

from ipaudit.render.openmetrics import REPORT_GAUGES, render_openmetrics
from ipaudit.report import Coverage, Finding, LeakedEni, Report, SubnetReport
from ipaudit.report_codec import report_from_dict
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits(
    "m5.8xlarge", max_enis=8, ipv4_per_eni=30, vcpus=32, hypervisor="nitro"
)


def prod_where(subnet_id: str = "subnet-a", name: str = "prod") -> dict[str, str]:
    return {
        "account": ACCOUNT,
        "region": REGION,
        "vpc": "vpc-1",
        "subnet": subnet_id,
        "az": "eu-west-1a",
        "cluster": name,
    }


def forecast_finding(subnet_id: str, days: float, cluster_name: str | None) -> Finding:
    return Finding(
        id=f"subnet_forecast:{ACCOUNT}:{REGION}:{cluster_name or '-'}:{subnet_id}",
        severity="WARNING",
        kind="subnet_forecast",
        account_id=ACCOUNT,
        region=REGION,
        cluster=cluster_name,
        resource=subnet_id,
        message="forecast to run out",
        value=days,
    )


def a_full_report() -> Report:
    """Two clusters sharing a subnet, a leak, a muted finding of no single cluster, a forecast,
    an unreachable cluster API and a region that could not be audited."""
    shared = subnet("subnet-shared", free=90)
    shared = replace(shared, roles=["nodes", "pods"], clusters=["batch", "prod"])
    prod = cluster(
        "prod",
        [subnet("subnet-a", free=40), shared],
        leaked=[LeakedEni("eni-1", "subnet-a", 4)],
    )
    batch = cluster("batch", [shared], with_recommendation=False)
    blind = replace(
        batch,
        pods=None,
        warm_ips=None,
        nodes=[replace(n, pods=None, warm_ips=None) for n in batch.nodes],
    )
    muted = replace(forecast_finding("subnet-shared", 6.5, None), muted=True, mute_id="m-1")
    return report(
        [prod, blind],
        extra_findings=[muted],
        coverage=[
            Coverage(ACCOUNT, REGION, "prod", "ok"),
            Coverage(ACCOUNT, REGION, "batch", "error", 'Kubernetes API: "refused"'),
            Coverage(ACCOUNT, "us-east-1", None, "error", "AccessDenied"),
        ],
    )


def test_every_series_equals_the_json_report_field_it_exposes() -> None:
    as_json = json.loads(json.dumps(a_full_report().to_dict()))

    text = render_openmetrics(report_from_dict(as_json))

    assert without(scraped(text), DERIVED) == from_report(as_json)


def test_it_is_openmetrics_each_family_declared_once_as_a_gauge_ending_with_eof() -> None:
    text = render_openmetrics(a_full_report())

    families = list(strict_openmetrics(text))  # raises on anything OpenMetrics forbids

    assert text.endswith("\n# EOF\n")
    assert [f.name for f in families] == [g.name for g in REPORT_GAUGES]
    assert {f.type for f in families} == {"gauge"}
    assert all(f.documentation for f in families)
    assert all(g.name.startswith("ipaudit_") for g in REPORT_GAUGES)


def test_an_unknown_count_is_no_series_never_a_zero() -> None:
    samples = scraped(render_openmetrics(a_full_report()))
    batch = {"account": ACCOUNT, "region": REGION, "cluster": "batch"}

    assert series("ipaudit_cluster_pods", **batch) not in samples
    assert series("ipaudit_cluster_warm_addresses", **batch) not in samples
    assert samples[series("ipaudit_cluster_addresses_held", **batch)] == 450
    node_series = {key[0] for key in samples if ("cluster", "batch") in key[1]}
    assert "ipaudit_node_addresses_held" in node_series
    assert not {"ipaudit_node_pods", "ipaudit_node_warm_addresses"} & node_series


def test_a_shared_subnet_is_one_series_per_cluster_that_lists_it() -> None:
    samples = scraped(render_openmetrics(a_full_report()))

    free = {
        dict(labels)["cluster"]: value
        for (name, labels), value in samples.items()
        if name == "ipaudit_subnet_free_addresses" and ("subnet", "subnet-shared") in labels
    }

    assert free == {"prod": 90, "batch": 90}


def test_time_until_full_is_the_forecast_findings_days_in_seconds_on_every_cluster_listing_it() -> (
    None
):
    samples = scraped(render_openmetrics(a_full_report()))

    until_full = {
        dict(labels)["cluster"]: value
        for (name, labels), value in samples.items()
        if name == "ipaudit_subnet_time_until_full_seconds"
    }

    # 6.5 days x 86400 s; subnet-a has no forecast finding: no series.
    assert until_full == {"prod": 561600, "batch": 561600}


def test_each_finding_is_one_series_named_by_its_resource_muted_ones_marked() -> None:
    samples = scraped(render_openmetrics(a_full_report()))

    findings = {
        tuple(dict(labels)[k] for k in ("cluster", "kind", "severity", "resource", "muted"))
        for (name, labels), value in samples.items()
        if name == "ipaudit_finding" and value == 1
    }

    # prod: subnet-a 40 of 1019 free (3.9%) and subnet-shared 90 (8.8%), both below 10%; the
    # leaked ENI in vpc-1; the forecast of the shared subnet belongs to no single cluster. (The
    # factory judges each cluster alone, so batch has its own finding on the shared subnet.)
    assert findings == {
        ("prod", "subnet_headroom", "CRITICAL", "subnet-a", "false"),
        ("prod", "subnet_headroom", "CRITICAL", "subnet-shared", "false"),
        ("batch", "subnet_headroom", "CRITICAL", "subnet-shared", "false"),
        ("prod", "leaked_enis", "WARNING", "vpc-1", "false"),
        ("-", "subnet_forecast", "WARNING", "subnet-shared", "true"),
    }


def test_a_node_carries_its_ec2_id_as_instance_id_which_a_scrape_keeps() -> None:
    samples = scraped(render_openmetrics(a_full_report()))

    node_labels = {
        frozenset(dict(labels))
        for (name, labels), _ in samples.items()
        if name.startswith("ipaudit_node_")
    }

    assert node_labels == {
        frozenset(
            {"account", "region", "cluster", "instance_id", "instance_type", "subnet", "node"}
        )
    }


def test_findings_count_per_scope_and_a_finding_of_no_cluster_is_dash() -> None:
    samples = scraped(render_openmetrics(a_full_report()))

    def count(cluster_name: str, kind: str, severity: str, muted: str) -> float:
        labels = {"account": ACCOUNT, "region": REGION, "cluster": cluster_name}
        return samples[
            series("ipaudit_findings", **labels, kind=kind, severity=severity, muted=muted)
        ]

    assert count("-", "subnet_forecast", "WARNING", "true") == 1
    assert count("prod", "subnet_headroom", "CRITICAL", "false") == 2  # 3.9% and 8.8% free


def test_coverage_errors_count_every_audited_scope_zero_included() -> None:
    samples = scraped(render_openmetrics(a_full_report()))

    assert samples[series("ipaudit_coverage_errors", account=ACCOUNT, region=REGION)] == 1
    assert samples[series("ipaudit_coverage_errors", account=ACCOUNT, region="us-east-1")] == 1
    why = {"cluster": "-", "error": "AccessDenied"}
    assert (
        samples[series("ipaudit_coverage_error", account=ACCOUNT, region="us-east-1", **why)] == 1
    )


def test_label_values_are_escaped() -> None:
    odd = 'team "a"\\prod\nnew'
    text = render_openmetrics(report([cluster(odd)]))

    assert odd in {dict(labels).get("cluster") for _, labels in scraped(text)}
    assert odd in {s.labels.get("cluster") for f in strict_openmetrics(text) for s in f.samples}


def test_the_run_timestamp_is_generated_at_in_unix_seconds() -> None:
    samples = scraped(render_openmetrics(report([])))

    assert samples == {series("ipaudit_run_timestamp_seconds"): 1772442000.0}  # 2026-03-02 09:00Z


def test_the_node_startup_need_is_what_the_headroom_finding_compared_free_with() -> None:
    # aws-node's defaults on an m5.8xlarge: a new node takes its primary ENI's 30 addresses.
    short = subnet("subnet-a", free=20, usable=1019)
    short = replace(short, roles=["nodes", "pods"])
    control_plane = replace(subnet("subnet-cp", free=3, usable=11), roles=["control-plane"])
    prod = replace(
        cluster("prod", [short, control_plane]), instance_types={"m5.8xlarge": M5_8XLARGE}
    )

    samples = scraped(render_openmetrics(report([prod])))
    need = {
        dict(labels)["subnet"]: (dict(labels)["instance_type"], value)
        for (name, labels), value in samples.items()
        if name == "ipaudit_subnet_node_startup_addresses"
    }

    assert need == {"subnet-a": ("m5.8xlarge", 30)}  # no node lands in a control-plane subnet


def test_a_subnet_lists_who_holds_its_used_addresses_and_its_roles() -> None:
    held = SubnetReport(
        "subnet-a", "10.0.0.0/24", "eu-west-1a", 251, 200, 79.7, 10, roles=["nodes"]
    )
    held.addresses.update(pods=30, warm=21)
    samples = scraped(render_openmetrics(report([cluster("prod", [held])])))
    where = prod_where()

    assert samples[series("ipaudit_subnet_used_addresses", **where, owner="pods")] == 30
    # An owner holding nothing (here every other one) has no series.
    assert {
        dict(labels)["owner"] for (name, labels) in samples if name.endswith("used_addresses")
    } == {
        "pods",
        "warm",
    }
    assert samples[series("ipaudit_subnet_role", **where, role="nodes")] == 1
    assert series("ipaudit_subnet_role", **where, role="pods") not in samples


def test_per_node_series_are_bounded_per_cluster_to_the_nodes_with_most_warm_addresses() -> None:
    # prod: 3 nodes holding 150 with 135 warm each (the factory); make them 135, 20, unknown.
    prod = cluster("prod", [subnet("subnet-a", free=40)])
    first, second, third = prod.nodes
    prod = replace(
        prod,
        nodes=[first, replace(second, warm_ips=20), replace(third, pods=None, warm_ips=None)],
    )
    batch = cluster("batch", [subnet("subnet-b", free=40)])
    whole = report([prod, batch])

    def nodes_with_series(text: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for (name, labels), _ in scraped(text).items():
            if name == "ipaudit_node_addresses_held":
                where = dict(labels)
                found.setdefault(where["cluster"], set()).add(where["instance_id"])
        return found

    assert nodes_with_series(render_openmetrics(whole, node_series=2)) == {
        "prod": {"i-prod-0", "i-prod-1"},  # 135 and 20 warm; the unknown one left out
        "batch": {"i-batch-0", "i-batch-1"},  # all alike (135 warm, 150 held): by id
    }
    assert nodes_with_series(render_openmetrics(whole, node_series=0)) == {}
    every = nodes_with_series(render_openmetrics(whole, node_series=None))
    assert (
        every
        == nodes_with_series(render_openmetrics(whole))
        == {
            "prod": {"i-prod-0", "i-prod-1", "i-prod-2"},
            "batch": {"i-batch-0", "i-batch-1", "i-batch-2"},
        }
    )
    # Cluster and subnet series stay whole: 3 nodes each, whatever the bound.
    bounded = scraped(render_openmetrics(whole, node_series=0))
    scope = {"account": ACCOUNT, "region": REGION}
    assert bounded[series("ipaudit_cluster_nodes", **scope, cluster="prod")] == 3
    assert bounded[series("ipaudit_cluster_addresses_held", **scope, cluster="batch")] == 450
