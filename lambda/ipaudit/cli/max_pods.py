"""`ipaudit max-pods TYPE... [--json]`: max pods per instance type from DescribeInstanceTypes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ipaudit.cli.options import add_aws_flags, session_from
from ipaudit.cni.kubelet_max_pods import (
    max_pods,
    max_pods_custom_networking,
    max_pods_prefix_delegation,
)
from ipaudit.snapshot import InstanceTypeLimits


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "max-pods",
        help="max pods per instance type",
        description="Max pods per instance type: what the EKS AMIs use (E*(I-1)+2), with "
        "custom networking, and with prefix delegation (the EKS max-pods calculator).",
    )
    parser.add_argument("types", nargs="+", metavar="TYPE", help="instance types, e.g. m5.large")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_aws_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ipaudit.aws.instance_types import describe_instance_types
    from ipaudit.aws.session import make_client

    ec2 = make_client(session_from(args), "ec2")
    limits = describe_instance_types(ec2, args.types)
    rows = [_row(limits[name]) for name in dict.fromkeys(args.types)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    titles = ("type", "ENIs", "IPv4/ENI", "vCPUs", "max pods", "custom net", "prefix deleg")
    print("  ".join(f"{title:>12}" for title in titles))
    for row in rows:
        print("  ".join(f"{value:>12}" for value in row.values()))
    return 0


def _row(limits: InstanceTypeLimits) -> dict[str, Any]:
    return {
        "instance_type": limits.instance_type,
        "max_enis": limits.max_enis,
        "ipv4_per_eni": limits.ipv4_per_eni,
        "vcpus": limits.vcpus,
        "max_pods": max_pods(limits),
        "max_pods_custom_networking": max_pods_custom_networking(limits),
        "max_pods_prefix_delegation": max_pods_prefix_delegation(limits),
    }
