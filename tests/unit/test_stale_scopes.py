"""serve-metrics keeps the last good values of the scopes a cycle could not audit, marked stale:
an outage does not resolve an alert whose problem is still there."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from support.reports import ACCOUNT, REGION, T0, cluster, report, subnet

from ipaudit.report import Coverage, Finding, Report
from ipaudit.stale_scopes import Served, carry_over

STARVED = Finding(
    id=f"pods_without_addresses:{ACCOUNT}:{REGION}:prod:prod",
    severity="CRITICAL",
    kind="pods_without_addresses",
    account_id=ACCOUNT,
    region=REGION,
    cluster="prod",
    resource="prod",
    message="6 pods could not get an IP address in the last hour",
    value=6,
)


def good_run() -> Report:
    # subnet-a: 40 of 1019 free (3.9%, CRITICAL); subnet-b: 200 (19.6%, WARNING); in us-east-1
    # cluster edge's subnet-e: 50 (4.9%, CRITICAL).
    prod = cluster("prod", [subnet("subnet-a", free=40), subnet("subnet-b", free=200)])
    edge = cluster("edge", [subnet("subnet-e", free=50)], region="us-east-1")
    return report([prod, edge], run_id="good", at=T0, extra_findings=[STARVED])


def ids(run: Report) -> set[str]:
    return {f.id for f in run.findings}


def test_a_region_that_failed_keeps_its_clusters_and_findings_marked_stale_since_the_good_run() -> (
    None
):
    good = good_run()
    edge = [c for c in good.clusters if c.region == "us-east-1"]
    failed = report(
        edge,
        run_id="outage",
        at=T0 + timedelta(minutes=5),
        coverage=[
            Coverage(ACCOUNT, REGION, None, "error", "EC2: RequestLimitExceeded"),
            Coverage(ACCOUNT, "us-east-1", "edge", "ok"),
        ],
    )

    served = carry_over(Served(good), failed)

    assert ids(served.report) == ids(good)  # every finding still served, none resolved
    assert sorted(c.name for c in served.report.clusters) == ["edge", "prod"]
    assert served.report.run_id == "outage"
    assert served.stale_since == {(ACCOUNT, REGION, None): "2026-03-02T09:00:00Z"}


def test_a_second_failure_keeps_the_first_good_time_and_a_good_cycle_ends_the_stale_mark() -> None:
    good = good_run()
    outage = Coverage(ACCOUNT, REGION, None, "error", "EC2: unavailable")
    first = carry_over(
        Served(good), replace(good, run_id="o1", clusters=[], findings=[], coverage=[outage])
    )
    second = carry_over(
        first,
        replace(
            good,
            run_id="o2",
            generated_at="2026-03-02T09:10:00Z",
            clusters=[],
            findings=[],
            coverage=[outage],
        ),
    )
    healed = carry_over(second, replace(good, run_id="ok"))

    assert second.stale_since == {(ACCOUNT, REGION, None): "2026-03-02T09:00:00Z"}
    # eu-west-1's three findings carried twice; us-east-1 did not fail, so nothing of it is.
    assert ids(second.report) == {f.id for f in good.findings if f.region == REGION}
    assert healed.stale_since == {}
    assert healed.report == replace(good, run_id="ok")


def test_a_cluster_whose_api_failed_keeps_what_needs_its_api_and_loses_what_ec2_resolved() -> None:
    good = good_run()
    # Kubernetes down for prod: EC2 still reads subnet-a (40 free, still CRITICAL); subnet-b
    # has 600 free now (58.9%): resolved. The pods' finding needs the API: kept, stale.
    prod_now = cluster("prod", [subnet("subnet-a", free=40), subnet("subnet-b", free=600)])
    edge = [c for c in good.clusters if c.name == "edge"]
    now = report(
        [prod_now, *edge],
        run_id="blind",
        coverage=[Coverage(ACCOUNT, REGION, "prod", "error", "Kubernetes API: refused")],
    )

    served = carry_over(Served(good), now)

    assert ids(served.report) == (ids(now) | {STARVED.id})
    assert f"subnet_headroom:{ACCOUNT}:{REGION}:prod:subnet-b" not in ids(served.report)
    assert served.stale_since == {(ACCOUNT, REGION, "prod"): "2026-03-02T09:00:00Z"}


def test_nothing_before_and_nothing_failed_is_the_report_as_is() -> None:
    good = good_run()

    assert carry_over(None, good) == Served(good)
    assert carry_over(Served(good), replace(good, run_id="next")) == Served(
        replace(good, run_id="next")
    )


def test_a_cluster_whose_vpc_was_not_read_is_kept_whole_marked_stale_as_that_cluster() -> None:
    good = good_run()
    # prod's VPC could not be read: prod is absent, its coverage entry names the VPC; edge is
    # audited. Everything of prod (its cluster, its 3 findings) is served as it was.
    edge = [c for c in good.clusters if c.name == "edge"]
    now = report(
        edge,
        run_id="vpc-down",
        coverage=[
            Coverage(ACCOUNT, REGION, "prod", "error", "VPC vpc-1 not read: UnauthorizedOperation"),
            Coverage(ACCOUNT, "us-east-1", "edge", "ok"),
        ],
    )

    served = carry_over(Served(good), now)

    assert sorted(c.name for c in served.report.clusters) == ["edge", "prod"]
    assert ids(served.report) == ids(good)
    assert served.stale_since == {(ACCOUNT, REGION, "prod"): "2026-03-02T09:00:00Z"}
