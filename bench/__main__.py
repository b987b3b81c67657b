"""How much the CNI model and the recommender cost, as ratios to a baseline timed in the same run.

Absolute times depend on the machine; ratios to a fixed pure-Python workload do much less, so
runs on different machines compare. Caches are cleared before every repetition: the cold cost.
"""

from __future__ import annotations

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
    """A large cluster as the collectors would hand it over: 5 ENIs x 30 addresses a node."""
    instances, enis, kube_nodes, pods = [], [], [], []
    for n in range(nodes):
        instance_id, node = f"i-{n:05d}", f"node-{n}"
        subnet = f"subnet-{n % 3}"
        instances.append(Instance(instance_id, "m5.8xlarge", subnet, "vpc", f"10.{n}", "running"))
        kube_nodes.append(KubeNode(node, instance_id, 234))
        for device in range(5):
            first = (n * 5 + device) * 30  # 150 addresses a node, in order
            ips = tuple(
                f"10.{n % 3}.{(first + k) // 256 % 256}.{(first + k) % 256}" for k in range(30)
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
        pods += [
            KubePod("default", f"p-{n}-{k}", node, "Running", False, "10.0.0.1") for k in range(30)
        ]
    subnets = tuple(Subnet(f"subnet-{i}", "vpc", f"10.{i}.0.0/16", "az", 1000) for i in range(3))
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


def main() -> None:
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


if __name__ == "__main__":
    main()
