"""What ipaudit costs, as ratios to a baseline timed in the same run (never asserted in tests).

The CNI model and the recommender; (a) collection CPU per 1,000 nodes by phase against the floor
(the same reads and nothing else), from recorded answers replayed, at 1,000 and 10,000 nodes and
for 10 clusters of 100 nodes; (b) AWS calls per audit against their lower bound and Kubernetes
requests per cluster; (c) the post-audit step's time as clusters grow; (d) `ipaudit what-if`
over a stored 1,000- and 10,000-node run against decoding it; (e) one cluster's account x region
analysed as an audit does it (report, findings, recommendation) and written as JSON, at 1,000
and 10,000 nodes; (f) the handler's cold import against boto3's.
Absolute times depend on the machine; ratios to a fixed pure-Python workload
do much less, so runs on different machines compare. Caches are cleared before every
repetition of the model benchmarks: the cold cost.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable

from ipaudit.analysis.cluster import analyze_cluster
from ipaudit.cni import CniSettings, simulate
from ipaudit.cni.simulator import _simulate
from ipaudit.recommend import recommend
from ipaudit.report import ClusterReport, NodeReport, SubnetReport
from ipaudit.snapshot import (
    Cluster,
    Eni,
    Instance,
    InstanceTypeLimits,
    KubeNode,
    KubePod,
    KubeView,
    Subnet,
)

REPEAT = 5
M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
M5_24XLARGE = InstanceTypeLimits("m5.24xlarge", 15, 50, 96, "nitro")


def baseline() -> None:
    """A fixed amount of plain Python work: dict and list operations, like the model's."""
    table: dict[int, int] = {}
    for i in range(200_000):
        table[i % 1000] = table.get(i % 1000, 0) + i
    sorted(table.values())


def article() -> None:
    simulate(M5_8XLARGE, CniSettings(), [100, 10], placement="spread")


def warm_ip_target_1_burst() -> None:
    # The slowest growth there is: one address per 5-second pass, to 735 pods.
    settings = CniSettings.from_env({"WARM_IP_TARGET": "1"})
    simulate(M5_24XLARGE, settings, [735, 20], placement="random", seed=1)


def prefix_burst() -> None:
    settings = CniSettings.from_env({"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"})
    simulate(M5_24XLARGE, settings, [248, 30, 248], placement="random", seed=1, max_pods=250)


def _cluster(nodes: int) -> ClusterReport:
    subnets = [
        SubnetReport(f"subnet-{i}", "10.0.0.0/20", "az", 4091, 100, 2.4, 3) for i in range(3)
    ]
    reports = [
        NodeReport(f"i-{i}", "m5.8xlarge", f"subnet-{i % 3}", 5, 150, 145, pods, 145 - pods)
        for i, pods in enumerate(5 + (i * 7) % 110 for i in range(nodes))
    ]
    held = sum(n.ips_held for n in reports)
    return ClusterReport("1", "r", "c", "vpc", {}, subnets, reports, [], held, 0, None)


CLUSTER = _cluster(100)
LIMITS = {"m5.8xlarge": M5_8XLARGE}


def recommend_100_nodes() -> None:
    recommend(CLUSTER, LIMITS)


def _snapshot(nodes: int) -> Cluster:
    """A large cluster as the collectors would hand it over: nodes spread over three /12
    subnets, 5 ENIs x 30 addresses a node (each address once in the VPC), and 30 running pods
    a node on addresses of its own ENIs."""
    instances, enis, kube_nodes, pods = [], [], [], []
    bases = [int.from_bytes(socket.inet_aton(f"10.{16 * i}.0.0"), "big") for i in range(3)]
    for n in range(nodes):
        instance_id, node = f"i-{n:05d}", f"node-{n}"
        subnet = f"subnet-{n % 3}"
        instances.append(Instance(instance_id, "m5.8xlarge", subnet, "vpc", f"10.{n}", "running"))
        kube_nodes.append(KubeNode(node, instance_id, 234))
        first = bases[n % 3] + 16 + n // 3 * 150
        for device in range(5):
            ips = tuple(
                socket.inet_ntoa((first + device * 30 + k).to_bytes(4, "big")) for k in range(30)
            )
            enis.append(
                Eni(
                    f"eni-{n}-{device}",
                    subnet,
                    "vpc",
                    "in-use",
                    "",
                    "interface",
                    ips,
                    instance_id=instance_id,
                    device_index=device,
                )
            )
        # Pods on the secondary addresses of the node's first two ENIs.
        pods += [
            KubePod("default", f"p-{n}-{k}", node, "Running", False, address)
            for k in range(30)
            for address in (enis[-5 + k // 29].private_ips[1 + k % 29],)
        ]
    used = -(-nodes // 3) * 150
    subnets = tuple(
        Subnet(f"subnet-{i}", "vpc", f"10.{16 * i}.0.0/12", "az", (1 << 20) - 5 - used)
        for i in range(3)
    )
    return Cluster(
        "1",
        "r",
        "c",
        "arn",
        "vpc",
        None,
        (),
        subnets,
        tuple(enis),
        tuple(instances),
        {"m5.8xlarge": M5_8XLARGE},
        KubeView(tuple(kube_nodes), tuple(pods), {}),
    )


BIG_SNAPSHOT = _snapshot(1000)


def analyze_1000_nodes() -> None:
    # The pure analysis of one large cluster (5000 ENIs, 30000 pods), recommendation excluded.
    analyze_cluster(BIG_SNAPSHOT)


def _time(work: Callable[[], None]) -> float:
    samples = []
    for _ in range(REPEAT):
        _simulate.cache_clear()
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def model() -> None:
    base = _time(baseline)
    print(f"{'workload':<28}{'median ms':>12}{'x baseline':>12}")
    print(f"{'baseline':<28}{base * 1000:>12.2f}{1:>12.2f}")
    for work in (
        article,
        warm_ip_target_1_burst,
        prefix_burst,
        recommend_100_nodes,
        analyze_1000_nodes,
    ):
        took = _time(work)
        print(f"{work.__name__:<28}{took * 1000:>12.2f}{took / base:>12.2f}")


def _cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def _baseline_cpu() -> float:
    return statistics.median(_cpu(baseline) for _ in range(REPEAT))


# (nodes, nodes per cluster, the ceiling on audit / floor): one cluster of 250 nodes per
# account x region, at 1,000 and 10,000 nodes, and many small clusters (10 of 100 nodes), where
# each cluster's fixed cost shows.
COLLECTION_SHAPES = ((1000, 250, 1.5), (10000, 250, 1.25), (1000, 100, 1.5))


def collection(shapes: tuple[tuple[int, int, float], ...]) -> None:
    from bench.collection import PHASES, audit_cpu, floor_cpu
    from bench.org import record

    summary = []
    for nodes, per_cluster, ceiling in shapes:
        recording = record(nodes, per_cluster=per_cluster)
        per = 1000 / recording.nodes
        floor = floor_cpu(recording)
        total, phases = audit_cpu(recording)
        base = _baseline_cpu()
        clusters = len(recording.accounts) * 2
        print(
            f"\n(a) collection: a generated {recording.nodes:,}-node organization "
            f"({clusters} clusters of {per_cluster}, {len(recording.accounts)} accounts x 2 "
            "regions), recorded answers replayed"
        )
        print(f"{'CPU per 1,000 nodes':<32}{'seconds':>10}{'x baseline':>12}")
        for phase in PHASES:
            print(f"  {phase:<30}{phases[phase] * per:>10.2f}{phases[phase] * per / base:>12.0f}")
        print(f"{'whole audit':<32}{total * per:>10.2f}{total * per / base:>12.0f}")
        print(f"{'floor (the same reads only)':<32}{floor * per:>10.2f}{floor * per / base:>12.0f}")
        print(f"{'audit / floor':<32}{total / floor:>10.2f}   (target <= {ceiling})")
        summary.append(
            (f"{recording.nodes:,} nodes, {clusters} x {per_cluster}", total, floor, ceiling)
        )
    print("\n(a) collection, every shape (CPU seconds, the floor timed in the same run)")
    print(f"{'shape':<28}{'audit':>9}{'floor':>9}{'ratio':>8}{'target':>9}")
    for shape, total, floor, ceiling in summary:
        verdict = "ok" if total / floor <= ceiling else "OVER"
        print(
            f"{shape:<28}{total:>9.2f}{floor:>9.2f}{total / floor:>7.2f}x"
            f"{'<= ' + str(ceiling):>9}  {verdict}"
        )


def analysis(nodes: int) -> None:
    """One account x region of one cluster analysed as an audit does (its report, findings and
    recommendation) and written as the JSON report, at `nodes` nodes of 5 ENIs x 30 addresses
    and 30 pods each (the shape the issue measured: 2.1-3.4 s at 10,000)."""
    from datetime import UTC, datetime

    from ipaudit.analysis.report_builder import combine_reports, target_report
    from ipaudit.settings import Settings
    from ipaudit.snapshot import TargetSnapshot

    settings = Settings()
    now = datetime(2026, 11, 27, tzinfo=UTC)
    built, written = [], []
    for _ in range(3):
        # A fresh snapshot each time: strings read from AWS have not had their hash taken yet.
        target = TargetSnapshot("1", "r", clusters=(_snapshot(nodes),))
        _simulate.cache_clear()
        started = time.process_time()
        parts = [target_report(target, settings, now)]
        report = combine_reports(parts, run_id="bench", generated_at="2026-11-27T00:00:00Z")
        middle = time.process_time()
        report.to_json()
        built.append(middle - started)
        written.append(time.process_time() - started)
    base = _baseline_cpu()
    took = min(written)
    print(f"\n(e) analysis + findings + recommendation + JSON report: one {nodes:,}-node cluster")
    print(f"{'CPU seconds':<36}{'':>10}{'x baseline':>12}")
    print(
        f"{'  analysis + report (built)':<36}{min(built):>10.3f}{min(built) / base:>12.1f}"
        "   (target < 1 s)"
    )
    print(f"{'  ... and written as JSON':<36}{took:>10.3f}{took / base:>12.1f}   (for reference)")


def cold_import() -> None:
    """CPU to import the Lambda handler in a fresh interpreter, modules precompiled as the
    asset ships them, against importing boto3 alone (the least a handler can import)."""
    import subprocess
    import sys

    def cpu(module: str) -> float:
        probe = (
            f"import time; started = time.process_time(); import {module}; "
            "print(time.process_time() - started)"
        )
        runs = [
            float(
                subprocess.run(
                    [sys.executable, "-c", probe], check=True, capture_output=True, text=True
                ).stdout
            )
            for _ in range(3)  # the first compiles what is not compiled yet
        ]
        return min(runs)

    handler, floor = cpu("ipaudit.handler"), cpu("boto3")
    print("\n(f) cold start: importing the handler in a fresh interpreter")
    print(f"{'CPU seconds':<36}{'':>10}{'x boto3':>10}")
    print(f"{'  boto3 alone (the floor)':<36}{floor:>10.3f}{1:>10.2f}")
    print(f"{'  ipaudit.handler':<36}{handler:>10.3f}{handler / floor:>10.2f}   (target < 1 s)")


def calls() -> None:
    from bench.calls import MOTO_ONLY, count_calls

    outcome = count_calls()
    measured, bound, since = outcome.counts, outcome.bound, outcome.read_since
    print("\n(b) calls: 2 accounts x 2 regions behind a counting proxy in front of moto")
    print(f"{'AWS operation':<44}{'calls':>7}{'bound':>7}{'+used':>10}")
    for operation in sorted(set(measured) | set(bound) | set(since)):
        print(
            f"  {operation:<42}{measured[operation]:>7}{bound[operation]:>7}"
            f"{bound[operation] + since[operation]:>10}"
        )
    total = sum(measured.values()) - measured[MOTO_ONLY]
    lower, used = sum(bound.values()), sum(bound.values()) + sum(since.values())
    print(f"{'AWS calls per audit (moto-only left out)':<44}{total:>7}{lower:>7}{used:>10}")
    print(
        f"{'ratio':<44}{total / lower:>6.2f}x{'':>7}{total / used:>9.2f}x   "
        "(target <= 1.1x; the second counts issues 8, 9 and 25's used reads in the bound)"
    )
    print(
        "Kubernetes requests per cluster: "
        + ", ".join(f"{n} nodes: {r}" for n, r in sorted(outcome.kube_requests.items()))
    )


def history(sizes: tuple[int, ...]) -> None:
    from bench.history import post_audit_cpu

    base = _baseline_cpu()
    print("\n(c) history: the post-audit step with 14 days of hourly history per cluster")
    print(f"{'clusters':<12}{'CPU s':>10}{'ms/cluster':>12}{'x baseline':>12}{'vs smallest':>13}")
    first = None
    for count in sizes:
        took = post_audit_cpu(count)
        each = took / count
        first = first or each
        print(
            f"{count:<12}{took:>10.2f}{each * 1000:>12.1f}{took / base:>12.0f}"
            f"{each / first:>12.2f}x"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--nodes",
        type=int,
        help="one collection shape only (clusters of 250), and this size for what-if and the "
        "analysis; default: collection at 1,000 and 10,000 nodes and 10 clusters of 100, "
        "what-if and analysis at 1,000 and 10,000",
    )
    parser.add_argument(
        "--clusters",
        default="100,400,800",
        help="cluster counts of the history benchmark, comma-separated",
    )
    parser.add_argument(
        "--only",
        choices=("model", "collection", "calls", "history", "what-if", "analysis", "cold-start"),
        action="append",
    )
    args = parser.parse_args(argv)
    chosen = set(
        args.only
        or ("model", "collection", "calls", "history", "what-if", "analysis", "cold-start")
    )
    sizes = (args.nodes,) if args.nodes else (1000, 10000)
    if "model" in chosen:
        model()
    if "collection" in chosen:
        collection(((args.nodes, 250, 1.5),) if args.nodes else COLLECTION_SHAPES)
    if "analysis" in chosen:
        for size in sizes:
            analysis(size)
    if "cold-start" in chosen:
        cold_import()
    if "calls" in chosen:
        calls()
    if "history" in chosen:
        history(tuple(int(n) for n in args.clusters.split(",")))
    if "what-if" in chosen:
        from bench.what_if import run

        for size in sizes:
            run(size)


if __name__ == "__main__":
    main()
