"""The recommender: settings proven by simulating every node, or "keep", or the structural fix."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

from ipaudit.cni.cni_settings import CniSettings
from ipaudit.recommend import recommend
from ipaudit.report import ClusterReport, NodeReport, SubnetChange, SubnetReport
from ipaudit.snapshot import InstanceTypeLimits

M5_8XLARGE = InstanceTypeLimits("m5.8xlarge", 8, 30, 32, "nitro")
M5_LARGE = InstanceTypeLimits("m5.large", 3, 10, 2, "nitro")
LIMITS = {"m5.8xlarge": M5_8XLARGE, "m5.large": M5_LARGE}


def _node(
    i: int, instance_type: str, subnet: str, enis: int, secondary: int, pods: int | None
) -> NodeReport:
    return NodeReport(
        instance_id=f"i-{i:04d}",
        instance_type=instance_type,
        subnet_id=subnet,
        enis=enis,
        ips_held=enis + secondary,
        secondary_ips=secondary,
        pods=pods,
        warm_ips=None if pods is None else secondary - pods,
    )


def _subnet(name: str, usable: int, free: int, blocks: int = 0) -> SubnetReport:
    return SubnetReport(
        name, "10.0.0.0/20", "eu-west-1a", usable, free, round(100 * free / usable, 1), blocks
    )


def _cluster(
    nodes: list[NodeReport], subnets: list[SubnetReport], cni: dict[str, str] | None = None
) -> ClusterReport:
    return ClusterReport(
        account_id="111111111111",
        region="eu-west-1",
        name="shop-prod",
        vpc_id="vpc-1",
        cni=cni or {},
        subnets=subnets,
        nodes=nodes,
        leaked_enis=[],
        ips_held=sum(n.ips_held for n in nodes),
        pods=None if any(n.pods is None for n in nodes) else sum(n.pods or 0 for n in nodes),
        warm_ips=None,
    )


def _article(cni: dict[str, str] | None = None, **addon: str | None) -> ClusterReport:
    """30 m5.8xlarge nodes that once ran ~100 pods and now run 10, spread over 5 ENIs each."""
    subnets = [_subnet(s, 1535, 20) for s in ("subnet-a", "subnet-b", "subnet-c")]
    nodes = [_node(i, "m5.8xlarge", f"subnet-{'abc'[i % 3]}", 5, 145, 10) for i in range(30)]
    return replace(_cluster(nodes, subnets, cni), **addon)


def _effective(cluster: ClusterReport, settings: dict[str, str]) -> CniSettings:
    return CniSettings.from_env({**cluster.cni, **settings})


def test_the_article_cluster_gets_settings_that_return_thousands_of_addresses() -> None:
    cluster = _article()
    rec = recommend(cluster, LIMITS)
    assert rec is not None and rec.kind == "tune"
    # Under the defaults every node holds its 5 ENIs full: 30 x 150.
    assert rec.current_ips_held == 4500
    assert rec.ips_returned >= 2000
    assert rec.projected_ips_held == rec.current_ips_held - rec.ips_returned
    # 10 pods on 5 pinned ENIs: at least 5 primaries and the 10 pods' addresses per node.
    assert rec.projected_ips_held >= 30 * (5 + 10)
    effective = _effective(cluster, rec.settings)
    assert effective.warm_ip_target >= 1 or effective.prefix_delegation
    assert not effective.starves_pods
    words = shlex.split(rec.command)
    assert words[:5] == ["kubectl", "-n", "kube-system", "set", "env"]
    assert words[5] == "daemonset/aws-node"
    assert dict(word.split("=", 1) for word in words[6:]) == rec.settings
    assert "EC2 calls" in rec.rationale and str(rec.ips_returned) in rec.rationale


def test_a_managed_addon_gets_update_addon_with_its_whole_configuration() -> None:
    configuration = {
        "env": {"ENABLE_POD_ENI": "true", "WARM_ENI_TARGET": "1"},
        "nodeAgent": {"enablePolicyEventLogs": "true"},
    }
    cluster = _article(
        {"WARM_ENI_TARGET": "1", "ENABLE_POD_ENI": "true", "AWS_VPC_K8S_CNI_LOGLEVEL": "DEBUG"},
        vpc_cni_addon="v1.19.2-eksbuild.1",
        vpc_cni_addon_configuration=json.dumps(configuration),
    )
    rec = recommend(cluster, LIMITS)
    assert rec is not None and rec.kind == "tune"
    words = shlex.split(rec.command)
    assert words[:7] == [
        "aws",
        "eks",
        "update-addon",
        "--cluster-name",
        "shop-prod",
        "--addon-name",
        "vpc-cni",
    ]
    assert words[7] == "--configuration-values"
    assert json.loads(words[8]) == {
        "env": {"ENABLE_POD_ENI": "true", "WARM_ENI_TARGET": "1", **rec.settings},
        "nodeAgent": {"enablePolicyEventLogs": "true"},
    }
    assert "not known here" not in rec.rationale


def test_a_managed_addon_whose_configuration_was_not_read_gets_kubectl_and_a_warning() -> None:
    cluster = _article(vpc_cni_addon="v1.19.2-eksbuild.1", vpc_cni_addon_configuration=None)
    rec = recommend(cluster, LIMITS)
    assert rec is not None and rec.kind == "tune"
    assert rec.command.startswith("kubectl -n kube-system set env daemonset/aws-node ")
    assert "configuration values are not known here (it was not read)" in rec.rationale


def test_a_healthy_cluster_keeps_its_settings() -> None:
    subnets = [_subnet("subnet-a", 1019, 800)]
    nodes = [_node(i, "m5.large", "subnet-a", 3, 27, 20) for i in range(5)]
    rec = recommend(_cluster(nodes, subnets), LIMITS)
    assert rec is not None
    assert (rec.kind, rec.ips_returned, rec.settings, rec.command) == ("keep", 0, {}, "")
    assert rec.projected_ips_held == rec.current_ips_held == 150


def test_a_large_warm_pool_is_tuned_even_with_roomy_subnets() -> None:
    # 4200 warm addresses for 300 pods, a third of the subnets: worth giving back.
    subnets = [_subnet(s, 4091, 2600) for s in ("subnet-a", "subnet-b", "subnet-c")]
    nodes = [_node(i, "m5.8xlarge", f"subnet-{'abc'[i % 3]}", 5, 145, 10) for i in range(30)]
    rec = recommend(_cluster(nodes, subnets), LIMITS)
    assert rec is not None and rec.kind == "tune" and rec.ips_returned >= 2000


def test_a_small_warm_pool_in_roomy_subnets_is_kept() -> None:
    # 28 warm for 10 pods is more than the pods, but a sliver of 1019 addresses.
    subnets = [_subnet("subnet-a", 1019, 900)]
    nodes = [_node(i, "m5.large", "subnet-a", 2, 18, 5) for i in range(2)]
    rec = recommend(_cluster(nodes, subnets), LIMITS)
    assert rec is not None and rec.kind == "keep"


def _filled(vpc_cidrs: list[str]) -> ClusterReport:
    """25 m5.large nodes with 27 pods each fill all 3 x 9 addresses: no warm address to return."""
    subnets = [_subnet("subnet-a", 1019, 1)]
    nodes = [_node(i, "m5.large", "subnet-a", 3, 27, 27) for i in range(25)]
    return replace(_cluster(nodes, subnets), vpc_cidrs=vpc_cidrs)


def test_pods_that_alone_fill_the_subnets_get_the_structural_fix_as_commands() -> None:
    # The pods draw 25 x 30 - 25 primaries = 725 addresses in eu-west-1a; twice that is 1450,
    # a /21 (2043 usable). The VPC holds 100.64.0.0/16, so the first free /21 is 100.65.0.0/21.
    rec = recommend(_filled(["10.0.0.0/16", "100.64.0.0/16"]), LIMITS)
    assert rec is not None and rec.kind == "structural"
    assert rec.settings == {
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
        "ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone",
    }
    terminate = "aws ec2 terminate-instances --region eu-west-1 --instance-ids"
    assert rec.command.splitlines() == [
        "aws ec2 associate-vpc-cidr-block --region eu-west-1 --vpc-id vpc-1 "
        "--cidr-block 100.65.0.0/21",
        "SUBNET_EU_WEST_1A=$(aws ec2 create-subnet --region eu-west-1 --vpc-id vpc-1 "
        "--availability-zone eu-west-1a --cidr-block 100.65.0.0/21 --query Subnet.SubnetId "
        "--output text)",
        "kubectl apply -f - <<EOF",
        "apiVersion: crd.k8s.amazonaws.com/v1alpha1",
        "kind: ENIConfig",
        "metadata:",
        "  name: eu-west-1a",
        "spec:",
        "  subnet: $SUBNET_EU_WEST_1A",
        "EOF",
        "kubectl -n kube-system set env daemonset/aws-node "
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone",
        "# Replace the nodes one at a time, waiting for each replacement (from its node group "
        "or Karpenter) to be Ready:",
        *(f"{terminate} i-{i:04d}" for i in range(25)),
    ]
    # Only each node's primary address stays in the nodes' subnets.
    assert (rec.projected_ips_held, rec.current_ips_held, rec.ips_returned) == (25, 750, 725)
    assert rec.subnets == [SubnetChange("subnet-a", 1, 726)]
    assert "the VPC holds 10.0.0.0/16, 100.64.0.0/16" in rec.rationale


def test_the_structural_fix_starts_at_100_64_0_0_when_the_vpc_has_none_of_it() -> None:
    rec = recommend(_filled(["10.0.0.0/16"]), LIMITS)
    assert rec is not None and rec.kind == "structural"
    assert rec.command.splitlines()[0].endswith("--cidr-block 100.64.0.0/21")


def test_under_custom_networking_each_node_is_bounded_by_its_eniconfig_subnet() -> None:
    # 4 m5.large nodes on custom networking: the primary ENI holds no pod address, two more
    # ENIs hold 9 each (in the pod subnet, 11 free), 4 pods spread over them. The node subnet
    # has 200 free, which tuning neither needs nor gives.
    #
    # Now: nothing is released under WARM_ENI_TARGET=1: 4 x 21 = 84. WARM_IP_TARGET=2 with
    # MINIMUM_IP_TARGET=4+2: 6 pool addresses on the same 3 ENIs, 9 a node: 36, so 48 back,
    # and the pod subnet goes from 11 to 59 free. (WARM_IP_TARGET=2 alone holds the same but
    # costs 1.5 EC2 calls per pod start on a burst against 1.0.)
    subnets = [_subnet("subnet-node", 251, 200), _subnet("subnet-pods", 251, 11)]
    nodes = [
        replace(_node(i, "m5.large", "subnet-node", 3, 18, 4), pool_subnet_id="subnet-pods")
        for i in range(4)
    ]
    cni = {
        "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
        "ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone",
    }
    rec = recommend(_cluster(nodes, subnets, cni), LIMITS)
    assert rec is not None and rec.kind == "tune"
    assert rec.settings == {"WARM_IP_TARGET": "2", "MINIMUM_IP_TARGET": "6"}
    assert (rec.current_ips_held, rec.projected_ips_held, rec.ips_returned) == (84, 36, 48)
    assert rec.subnets == [SubnetChange("subnet-pods", 11, 59)]
    assert "free addresses go from 11 to 59 of 251" in rec.rationale


def test_minimum_without_warm_is_never_recommended_and_is_fixed_when_set() -> None:
    # MINIMUM_IP_TARGET=12 alone caps every node at 12 addresses (#2650).
    subnets = [_subnet("subnet-a", 1019, 800)]
    nodes = [_node(i, "m5.8xlarge", "subnet-a", 1, 12, 12) for i in range(4)]
    cluster = _cluster(nodes, subnets, {"MINIMUM_IP_TARGET": "12"})
    rec = recommend(cluster, LIMITS)
    assert rec is not None and rec.kind == "tune"
    assert not _effective(cluster, rec.settings).starves_pods
    assert "#2650" in rec.rationale
    for other in (_article(), _article({"WARM_IP_TARGET": "0", "MINIMUM_IP_TARGET": "20"})):
        rec = recommend(other, LIMITS)
        assert rec is not None and not _effective(other, rec.settings).starves_pods


def test_no_recommendation_without_pods_or_known_types() -> None:
    subnets = [_subnet("subnet-a", 1019, 0)]
    unknown_pods = [_node(i, "m5.8xlarge", "subnet-a", 5, 145, None) for i in range(3)]
    assert recommend(_cluster(unknown_pods, subnets), LIMITS) is None
    unknown_type = [_node(i, "x9.huge", "subnet-a", 5, 145, 10) for i in range(3)]
    assert recommend(_cluster(unknown_type, subnets), LIMITS) is None


def test_unreadable_settings_or_ipv6_give_no_recommendation() -> None:
    assert recommend(_article({"WARM_IP_TARGET": "lots"}), LIMITS) is None
    assert recommend(_article({"ENABLE_IPv6": "true"}), LIMITS) is None


def test_the_same_cluster_gives_the_same_recommendation() -> None:
    cluster = _article()
    assert recommend(cluster, LIMITS) == recommend(cluster, LIMITS)


def test_a_recent_peak_sizes_the_bursts_the_settings_must_absorb() -> None:
    # The article's nodes ran ~100 pods each before churn: 3000 in all.
    today = recommend(_article(), LIMITS)
    at_peak = recommend(_article(), LIMITS, peak_pods=3000)
    assert today is not None and at_peak is not None and at_peak.kind == "tune"
    # Bursts ten times larger cost more EC2 calls per pod start under a tiny warm pool, so the
    # peak-aware choice keeps a larger one, and still returns thousands of addresses.
    assert _effective(_article(), at_peak.settings).warm_ip_target > (
        _effective(_article(), today.settings).warm_ip_target
    )
    assert at_peak.ips_returned >= 2000
    assert "recent peak (3000 pods in all)" in at_peak.rationale


def test_a_peak_the_subnets_cannot_absorb_calls_for_the_structural_fix() -> None:
    # 200 pods a node: more than any node's addresses plus its subnet's free ones.
    rec = recommend(_article(), LIMITS, peak_pods=6000)
    assert rec is not None and rec.kind == "structural"


def test_a_peak_below_today_changes_nothing() -> None:
    assert recommend(_article(), LIMITS, peak_pods=100) == recommend(_article(), LIMITS)
