"""The report as CSV for spreadsheets and scripts: one row per subnet and one per node.

Both kinds share one header so the file loads as one table; `record` says which kind a row is
and the other kind's columns are empty. Columns may be added at the end, never renamed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from ipaudit.report import ClusterReport, Report

CLUSTER_COLUMNS = ("record", "account_id", "region", "cluster", "vpc_id")
SUBNET_COLUMNS = ("subnet_id", "az", "cidr", "usable", "free", "free_pct", "free_prefix_blocks")
NODE_COLUMNS = (
    "instance_id",
    "instance_type",
    "node_name",
    "enis",
    "ips_held",
    "secondary_ips",
    "pods",
    "warm_ips",
    "max_pods",
)
COLUMNS = (*CLUSTER_COLUMNS, *SUBNET_COLUMNS, *NODE_COLUMNS)


def render_csv(report: Report) -> str:
    out = io.StringIO()
    # `restval=""`: a subnet row has no node columns and a node row no subnet figures.
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for cluster in report.clusters:
        writer.writerows(_rows(cluster))
    return out.getvalue()


def _rows(cluster: ClusterReport) -> Iterator[dict[str, object]]:
    common = {
        "account_id": cluster.account_id,
        "region": cluster.region,
        "cluster": cluster.name,
        "vpc_id": cluster.vpc_id,
    }
    for subnet in cluster.subnets:
        yield {
            **common,
            "record": "subnet",
            **{column: getattr(subnet, column) for column in SUBNET_COLUMNS},
        }
    for node in cluster.nodes:
        row = {column: getattr(node, column) for column in NODE_COLUMNS}
        yield {
            **common,
            "record": "node",
            "subnet_id": node.subnet_id,
            # Unknown (Kubernetes unreachable) is an empty cell, never a misleading 0.
            **{column: "" if value is None else value for column, value in row.items()},
        }
