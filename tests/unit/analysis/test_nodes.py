"""Per node: addresses held by its ENIs versus the pods that really use one."""

from ipaudit.analysis.nodes import node_reports
from ipaudit.snapshot import Eni, Instance, KubeNode, KubePod, KubeView

INSTANCE = Instance("i-1", "m5.8xlarge", "subnet-a", "vpc-1", "10.0.0.10", "running")


def attached(device: int, addresses: int, prefixes: tuple[str, ...] = ()) -> Eni:
    ips = tuple(f"10.0.{device}.{n}" for n in range(10, 10 + addresses))
    return Eni(
        eni_id=f"eni-{device}",
        subnet_id="subnet-a",
        vpc_id="vpc-1",
        status="in-use",
        description="aws-K8S-i-1" if device else "",
        interface_type="interface",
        private_ips=ips,
        prefixes=prefixes,
        instance_id="i-1",
        device_index=device,
    )


def pod(name: str, **overrides: object) -> KubePod:
    fields: dict[str, object] = {
        "namespace": "default",
        "name": name,
        "node_name": "node-1",
        "phase": "Running",
        "host_network": False,
        "pod_ip": "10.0.1.11",
    }
    fields.update(overrides)
    return KubePod(**fields)  # type: ignore[arg-type]


def view(*pods: KubePod) -> KubeView:
    return KubeView(nodes=(KubeNode("node-1", "i-1", 234),), pods=pods, cni_env={})


def test_held_counts_every_address_primaries_included_and_16_per_prefix() -> None:
    enis = [attached(0, 30), attached(1, 30), attached(2, 1, prefixes=("10.0.3.0/28",))]
    [node] = node_reports([INSTANCE], enis, view())
    assert node.enis == 3
    assert node.ips_held == 30 + 30 + 1 + 16
    assert node.secondary_ips == 29 + 29 + 16


def test_only_running_pods_with_a_vpc_address_on_that_node_count() -> None:
    pods = [
        pod("web"),
        pod("api", phase="Pending"),  # already has its address
        pod("aws-node", host_network=True),
        pod("job", phase="Succeeded"),
        pod("crashed", phase="Failed"),
        pod("unscheduled", node_name=None),
        pod("waiting-for-ip", phase="Pending", pod_ip=None),
        pod("elsewhere", node_name="node-2"),
    ]
    [node] = node_reports([INSTANCE], [attached(0, 30)], view(*pods))
    assert node.pods == 2
    assert node.warm_ips == 29 - 2
    assert (node.node_name, node.max_pods) == ("node-1", 234)


def test_without_kubernetes_pods_and_warm_are_unknown_not_zero() -> None:
    [node] = node_reports([INSTANCE], [attached(0, 30)], None)
    assert node.pods is None and node.warm_ips is None and node.ips_held == 30


def test_an_instance_that_never_joined_runs_no_pods_but_still_holds_addresses() -> None:
    kube = KubeView(nodes=(), pods=(), cni_env={})
    [node] = node_reports([INSTANCE], [attached(0, 30), attached(1, 30)], kube)
    assert (node.pods, node.warm_ips, node.ips_held) == (0, 58, 60)
