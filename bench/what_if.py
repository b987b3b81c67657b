"""`ipaudit what-if` over a stored 1,000-node run, against decoding that run alone.

The run is one cluster's JSON report as `audit --json` writes it: 1,000 m5.8xlarge nodes in
three zones under aws-node's defaults, a managed node group over the three subnets. The
what-if decodes it, simulates every node under new settings (nodes alike share one
simulation), counts the ceilings again and starts 10 nodes.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from ipaudit.analysis.what_if import Question, answer_report
from ipaudit.cni.simulator import _simulate
from ipaudit.report import (
    Ceiling,
    CeilingZone,
    ClusterReport,
    NodeReport,
    Report,
    SubnetReport,
)
from ipaudit.report_codec import report_from_dict
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
QUESTION = Question(
    settings={"WARM_IP_TARGET": "4"}, add_nodes=10, instance_type="m5.8xlarge", group="workers"
)
REPEAT = 5


def stored_run(nodes: int = 1000) -> str:
    """The JSON of a run with one `nodes`-node cluster."""
    subnets = [
        SubnetReport(
            f"subnet-{z}", f"10.{i}.0.0/16", z, 65531, 9000, 13.7, 200, roles=["nodes", "pods"]
        )
        for i, z in enumerate(ZONES)
    ]
    reports = []
    for i in range(nodes):
        pods = 5 + (i * 7) % 110
        subnet = subnets[i % 3].subnet_id
        reports.append(
            NodeReport(
                f"i-{i:05d}",
                "m5.8xlarge",
                subnet,
                5,
                150,
                145,
                pods,
                145 - pods,
                max_pods=234,
                pool_subnet_id=subnet,
                pool_subnet_ids=[subnet],
                group="workers",
            )
        )
    group = Ceiling(
        "workers",
        "nodegroup",
        [s.subnet_id for s in subnets],
        ["m5.8xlarge"],
        nodes,
        max_size=nodes + 200,
        zones=[CeilingZone(s.az, [s.subnet_id]) for s in subnets],
    )
    cluster = ClusterReport(
        "111111111111",
        "eu-west-1",
        "big",
        "vpc-1",
        {},
        subnets,
        reports,
        [],
        150 * nodes,
        sum(n.pods or 0 for n in reports),
        sum(n.warm_ips or 0 for n in reports),
        instance_types={"m5.8xlarge": M5_8XLARGE},
        ceilings=[group],
    )
    return json.dumps(Report("bench", "2026-01-01T00:00:00Z", clusters=[cluster]).to_dict())


def decode(text: str) -> Report:
    return report_from_dict(json.loads(text))


def what_if(text: str) -> None:
    answer_report(decode(text), QUESTION)


def _time(work: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPEAT):
        _simulate.cache_clear()  # the cold cost: a fresh `ipaudit what-if` process
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(nodes: int = 1000) -> None:
    text = stored_run(nodes)
    base = _time(lambda: decode(text))
    took = _time(lambda: what_if(text))
    print(f"\n(d) what-if: a stored {nodes:,}-node run ({len(text) / 1e6:.1f} MB of JSON)")
    print(f"{'workload':<36}{'median s':>10}{'x decode':>10}")
    print(f"{'decode the report (baseline)':<36}{base:>10.3f}{1:>10.2f}")
    print(f"{'what-if: settings + 10 nodes':<36}{took:>10.3f}{took / base:>10.2f}   (target < 1 s)")
