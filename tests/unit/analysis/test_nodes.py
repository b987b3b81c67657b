"""Per node: addresses held by its ENIs versus the pods that really use one."""

from dataclasses import replace

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
        pod("web", pod_ip="10.0.0.11"),
        pod("api", phase="Pending", pod_ip="10.0.0.12"),  # already has its address
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


def test_warm_is_the_aws_node_addresses_no_running_pod_uses_never_negative() -> None:
    # Two pods report the same address (a stale status): one address is used, not two.
    pods = [pod("a", pod_ip="10.0.0.11"), pod("b", pod_ip="10.0.0.11"), pod("c", pod_ip="9.9.9.9")]
    [node] = node_reports([INSTANCE], [attached(0, 3)], view(*pods))
    assert (node.secondary_ips, node.pods, node.warm_ips) == (2, 3, 1)


def test_pods_inside_a_prefix_use_its_addresses() -> None:
    enis = [attached(0, 1, prefixes=("10.0.5.16/28",))]
    pods = [
        pod("a", pod_ip="10.0.5.16"),
        pod("b", pod_ip="10.0.5.31"),
        pod("c", pod_ip="10.0.5.32"),
    ]
    [node] = node_reports([INSTANCE], enis, view(*pods))
    assert (node.secondary_ips, node.warm_ips) == (16, 14)


def test_branch_enis_of_security_groups_for_pods_count_for_their_node_not_its_warm_pool() -> None:
    # The node: primary ENI with 10 addresses, a trunk with 1, 5 branch ENIs; 3 pods on
    # secondary addresses and 5 on branch ENIs. It holds 16, 6 of them warm.
    trunk = replace(attached(1, 1), eni_id="eni-trunk", interface_type="trunk", description="")
    branches = [
        Eni(
            eni_id=f"eni-branch-{n}",
            subnet_id="subnet-a",
            vpc_id="vpc-1",
            status="in-use",
            description="aws-k8s-branch-eni",
            interface_type="branch",
            private_ips=(f"10.0.9.{n}",),
            tags={"vpcresources.k8s.aws/trunk-eni-id": "eni-trunk"},
        )
        for n in range(5)
    ]
    pods = [pod(f"p{n}", pod_ip=f"10.0.0.{11 + n}") for n in range(3)]
    pods += [pod(f"sg{n}", pod_ip=f"10.0.9.{n}") for n in range(5)]
    [node] = node_reports([INSTANCE], [attached(0, 10), trunk, *branches], view(*pods))
    assert (node.ips_held, node.secondary_ips, node.pods, node.warm_ips) == (16, 9, 8, 6)
    assert (node.enis, node.branch_enis) == (2, 5)


def test_a_node_aws_node_does_not_manage_has_no_warm_pool() -> None:
    [node] = node_reports(
        [INSTANCE], [attached(0, 10)], view(pod("a", pod_ip="10.0.0.11")), aws_node_instances=()
    )
    assert (node.pods, node.warm_ips, node.aws_node) == (1, None, False)


def test_an_instance_type_ec2_does_not_know_has_no_max_pods() -> None:
    [node] = node_reports([INSTANCE], [attached(0, 10)], view(), known_types=())
    assert node.max_pods is None and node.ips_held == 10
