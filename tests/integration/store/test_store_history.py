"""The per-cluster history aggregate (moto over HTTP): one query reads every cluster's recent
runs, each run is appended once, and the window keeps 14 days."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from mypy_boto3_dynamodb import DynamoDBClient
from support.reports import T0, cluster, report, subnet

from ipaudit.report import ClusterReport
from ipaudit.store.history import load_histories, record_run
from ipaudit.store.runs import store_run

TABLE = "ipaudit-test"


def busy(name: str, pods: int, free: int) -> ClusterReport:
    return replace(cluster(name, [subnet("subnet-a", free=free)]), pods=pods)


def audit(dynamodb: DynamoDBClient, hours: int, clusters: list[ClusterReport]) -> None:
    """One hourly run as the pipeline stores it."""
    run = report(clusters, run_id=f"run-{hours}", at=T0 + timedelta(hours=hours))
    store_run(dynamodb, TABLE, run)
    record_run(dynamodb, TABLE, run)


def queries(dynamodb: DynamoDBClient) -> list[str]:
    made: list[str] = []
    dynamodb.meta.events.register(
        "before-call.dynamodb.Query", lambda **kw: made.append(kw["model"].name)
    )
    return made


def test_one_query_reads_every_clusters_peak_and_free_series(dynamodb: DynamoDBClient) -> None:
    names = [f"c{n}" for n in range(5)]
    for hour in range(6):
        audit(
            dynamodb, hour, [busy(name, 10 * hour + n, 500 - hour) for n, name in enumerate(names)]
        )
    made = queries(dynamodb)

    histories = load_histories(
        dynamodb,
        TABLE,
        [busy(name, 0, 0) for name in names],
        now=T0 + timedelta(hours=6),
        run_id="run-6",
    )

    assert made == ["Query"]
    prod = histories["111111111111/eu-west-1/c3"]
    assert prod.peak_pods() == 53
    points = prod.subnet_points()["subnet-a"]
    assert [free for _, free in points] == [500, 499, 498, 497, 496, 495]
    assert points[-1][0] == T0 + timedelta(hours=5)


def test_a_retried_run_is_appended_once_and_not_counted_as_its_own_past(
    dynamodb: DynamoDBClient,
) -> None:
    audit(dynamodb, 0, [busy("prod", 30, 500)])
    audit(dynamodb, 1, [busy("prod", 90, 480)])
    audit(dynamodb, 1, [busy("prod", 90, 480)])  # the same run id again

    history = load_histories(
        dynamodb, TABLE, [busy("prod", 0, 0)], now=T0 + timedelta(hours=1), run_id="run-1"
    )["111111111111/eu-west-1/prod"]

    assert [free for _, free in history.subnet_points()["subnet-a"]] == [500]
    assert history.peak_pods() == 30


def test_the_window_keeps_the_last_fourteen_days(dynamodb: DynamoDBClient) -> None:
    for day in range(20):
        audit(dynamodb, 24 * day, [busy("prod", day, 900 - day)])

    history = load_histories(
        dynamodb, TABLE, [busy("prod", 0, 0)], now=T0 + timedelta(days=20), run_id="run-now"
    )["111111111111/eu-west-1/prod"]

    assert [free for _, free in history.subnet_points()["subnet-a"]] == [
        900 - day for day in range(6, 20)
    ]
    assert history.peak_pods() == 19


def test_runs_stored_before_the_aggregate_existed_are_its_start(dynamodb: DynamoDBClient) -> None:
    for hour in range(3):
        store_run(
            dynamodb,
            TABLE,
            report(
                [busy("prod", 40 - hour, 600 - hour)],
                run_id=f"old-{hour}",
                at=T0 + timedelta(hours=hour),
            ),
        )

    history = load_histories(
        dynamodb, TABLE, [busy("prod", 0, 0)], now=T0 + timedelta(hours=3), run_id="run-3"
    )["111111111111/eu-west-1/prod"]

    assert history.peak_pods() == 40
    assert [free for _, free in history.subnet_points()["subnet-a"]] == [600, 599, 598]


def test_a_subnet_that_appears_later_joins_the_series_from_then_on(
    dynamodb: DynamoDBClient,
) -> None:
    audit(dynamodb, 0, [busy("prod", 10, 500)])
    grown = replace(
        busy("prod", 10, 499), subnets=[subnet("subnet-a", 499), subnet("subnet-b", 900)]
    )
    audit(dynamodb, 1, [grown])

    series = load_histories(dynamodb, TABLE, [grown], now=T0 + timedelta(hours=2), run_id="run-2")[
        "111111111111/eu-west-1/prod"
    ].subnet_points()

    assert [free for _, free in series["subnet-a"]] == [500, 499]
    assert [(moment, free) for moment, free in series["subnet-b"]] == [
        (T0 + timedelta(hours=1), 900)
    ]


def test_the_vpcs_free_network_address_usage_units_are_kept_beside_the_subnets(
    dynamodb: DynamoDBClient,
) -> None:
    from ipaudit.report import NetworkAddressUsage

    def with_units(units: int) -> ClusterReport:
        # Free units are the quota less the units: 100 - 60 = 40, then 100 - 70 = 30.
        nau = NetworkAddressUsage("vpc-1", units, 100, "applied", 100 - units, 100.0 - units)
        return replace(busy("prod", 10, 500), network_address_usage=nau)

    audit(dynamodb, 0, [with_units(60)])
    audit(dynamodb, 1, [with_units(70)])

    series = load_histories(
        dynamodb, TABLE, [with_units(70)], now=T0 + timedelta(hours=2), run_id="run-2"
    )["111111111111/eu-west-1/prod"].subnet_points()

    assert [free for _, free in series["nau:vpc-1"]] == [40, 30]
