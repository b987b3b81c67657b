"""`--output csv`: one row per subnet and one per node, under one documented header."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from support.reports import cluster, report, subnet

from ipaudit.render.csv_rows import COLUMNS, render_csv


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_subnet_and_every_node_is_a_row_under_one_header() -> None:
    prod = cluster("prod", [subnet("subnet-a", free=40), subnet("subnet-b", free=900)])
    text = render_csv(report([prod]))
    assert text.splitlines()[0] == ",".join(COLUMNS)
    table = rows(text)
    assert [(r["record"], r["instance_id"] or r["subnet_id"]) for r in table] == [
        ("subnet", "subnet-a"),
        ("subnet", "subnet-b"),
        ("node", "i-prod-0"),
        ("node", "i-prod-1"),
        ("node", "i-prod-2"),
    ]
    a = table[0]
    assert (a["cluster"], a["free"], a["usable"], a["free_pct"]) == ("prod", "40", "1019", "3.9")
    assert a["instance_id"] == "" and a["ips_held"] == ""  # node columns stay empty
    node = table[2]
    assert (node["subnet_id"], node["ips_held"], node["pods"], node["warm_ips"]) == (
        "subnet-a",
        "150",
        "10",
        "135",
    )
    assert node["free"] == ""  # subnet figures stay empty on a node row


def test_a_node_whose_pods_are_unknown_has_empty_cells_not_zero() -> None:
    prod = cluster("prod")
    blind = replace(prod, nodes=[replace(n, pods=None, warm_ips=None) for n in prod.nodes])
    node = rows(render_csv(report([blind])))[1]
    assert (node["pods"], node["warm_ips"], node["ips_held"]) == ("", "", "150")


def test_commas_and_quotes_in_names_survive_a_round_trip() -> None:
    odd = cluster('team "a", prod')
    assert {r["cluster"] for r in rows(render_csv(report([odd])))} == {'team "a", prod'}


def test_no_cluster_is_a_header_alone() -> None:
    assert render_csv(report([])) == ",".join(COLUMNS) + "\n"
