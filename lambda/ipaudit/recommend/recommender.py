"""Recommend aws-node settings for a cluster and prove them with the CNI model.

Every candidate, and the current settings, is simulated on every node's observed pods under
`spread` (see `evaluate`); `choose` keeps the acceptable candidates and picks the one returning
the most addresses. When even that leaves the subnets short, tuning cannot help and the
structural fix is recommended instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from ipaudit.cni.settings import CniSettings
from ipaudit.errors import InputError
from ipaudit.recommend.candidates import Candidate, candidates
from ipaudit.recommend.choose import EC2_CALLS_PER_POD_START, Room, choose
from ipaudit.recommend.command import Addon, Applied, apply_command
from ipaudit.recommend.evaluate import NodeLoad, Outcome, evaluate, node_loads
from ipaudit.report import ClusterReport, Recommendation
from ipaudit.snapshot import InstanceTypeLimits

PRESSURE_FREE_PCT = 25.0  # IPAUDIT_WARN_FREE_PCT's default (docs/design.md)
STRUCTURAL_FREE_PCT = 10.0  # still below this after tuning: tuning cannot help
LARGE_WARM_SHARE_OF_SUBNETS = 0.10  # a warm pool this share of the subnets is worth tuning
SECONDARY_CIDR = "100.64.0.0/16"  # a piece of 100.64.0.0/10 (RFC 6598), as EKS docs use
CUSTOM_NETWORKING = {
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
    "ENI_CONFIG_LABEL_DEF": "topology.kubernetes.io/zone",
}


def recommend(
    cluster: ClusterReport,
    limits: Mapping[str, InstanceTypeLimits],
    *,
    peak_pods: int | None = None,
) -> Recommendation | None:
    """None when the model cannot judge: no pods known (Kubernetes unreachable), no known
    instance type, IPv6, or aws-node settings it cannot read.

    `peak_pods` is the cluster's busiest pod count in its recent history, when there is one:
    bursts are sized to it, so no candidate leaves pods pending at the observed peak."""
    if cluster.cni is None:
        return None  # no aws-node to read: nothing the model covers
    try:
        current = CniSettings.from_env(cluster.cni)
    except InputError:
        return None
    if current.ipv6:
        return None
    loads = node_loads(cluster, limits, current, peak_pods)
    if not loads:
        return None
    return _Recommender(cluster, current, loads).recommend()


class _Recommender:
    def __init__(
        self,
        cluster: ClusterReport,
        current: CniSettings,
        loads: list[NodeLoad],
    ) -> None:
        self.cluster = cluster
        self.loads = loads
        self.addon = (
            None
            if cluster.vpc_cni_addon is None
            else Addon(cluster.vpc_cni_addon, cluster.vpc_cni_addon_configuration)
        )
        self.now = evaluate(current, loads)
        self.free = sum(subnet.free for subnet in cluster.subnets)
        self.usable = sum(subnet.usable for subnet in cluster.subnets)
        self.observed_held = sum(node.ips_held for node in cluster.nodes)
        self.pods = sum(load.pods for load in loads)
        self.burst_pods = sum(load.burst_pods for load in loads)

    def recommend(self) -> Recommendation:
        current = self.now.settings
        pressure = any(subnet.free_pct < PRESSURE_FREE_PCT for subnet in self.cluster.subnets)
        # Large: more warm than used, and enough to matter to the subnets.
        large_warm_pool = (
            self.now.warm_ips > self.pods
            and self.now.warm_ips >= self.usable * LARGE_WARM_SHARE_OF_SUBNETS
        )
        if not (pressure or large_warm_pool or current.starves_pods):
            return self._keep("the subnets have room and the warm pool is small")
        best = self._best()
        returned = 0 if best is None else self.now.ips_held - best[1].ips_held
        if pressure and self._free_pct(self.free + max(returned, 0)) < STRUCTURAL_FREE_PCT:
            return self._structural(best)
        if best is not None and (current.starves_pods or returned >= self._worthwhile()):
            return self._tune(*best)
        return self._keep("no setting returns enough addresses to be worth its cost")

    # -- choosing ---------------------------------------------------------------------------

    def _best(self) -> tuple[Candidate, Outcome] | None:
        room = Room(
            addresses=self.free + self.observed_held,
            free_prefix_blocks=sum(s.free_prefix_blocks for s in self.cluster.subnets),
        )
        options = candidates(self.cluster.cni or {}, self.now.settings, self.loads)
        return choose(self.now, [(c, evaluate(c.settings, self.loads)) for c in options], room)

    def _worthwhile(self) -> int:
        """Fewer returned addresses than this are not worth a change: one per node, or 5%."""
        return max(len(self.loads), self.now.ips_held // 20)

    def _free_pct(self, free: int) -> float:
        return 100.0 * free / self.usable if self.usable else 0.0

    # -- the three answers ------------------------------------------------------------------

    def _keep(self, why: str) -> Recommendation:
        now = self.now
        return Recommendation(
            settings={},
            projected_ips_held=now.ips_held,
            ips_returned=0,
            command="",
            rationale=(
                f"Keep the current settings ({now.settings.describe()}): {why}. "
                f"Simulated on the {len(self.loads)} nodes' {self.pods} pods, they hold "
                f"{now.ips_held} addresses ({now.warm_ips} warm); the subnets have {self.free} "
                f"of {self.usable} free."
            ),
            current_ips_held=now.ips_held,
            kind="keep",
        )

    def _tune(self, candidate: Candidate, outcome: Outcome) -> Recommendation:
        now = self.now
        returned = now.ips_held - outcome.ips_held
        settings = outcome.settings.describe()
        starving = (
            f" The current settings set MINIMUM_IP_TARGET without WARM_IP_TARGET, which caps "
            f"each node at {now.settings.minimum_ip_target} addresses and starves the pods "
            f"beyond it (aws/amazon-vpc-cni-k8s#2650)."
            if now.settings.starves_pods
            else ""
        )
        replaced = (
            " (a change of address mode reaches new nodes only: replace the nodes)"
            if outcome.settings.prefix_delegation != now.settings.prefix_delegation
            else ""
        )
        rationale = (
            f"Simulated each of the {len(self.loads)} nodes as it is with its observed pods "
            f"({self.pods} in all) spread evenly over its ENIs, the worst case. Under "
            f"{settings}{replaced} they would hold "
            f"{outcome.ips_held} addresses instead of {now.ips_held} under "
            f"{now.settings.describe()} (the nodes report {self.observed_held} now): "
            f"{returned} addresses back, and the subnets' free addresses go from {self.free} "
            f"to {self.free + returned} of {self.usable}.{starving} The trade-off: a smaller "
            f"warm pool costs more EC2 calls ({outcome.calls_per_pod_start:.2f} per pod start "
            f"against {now.calls_per_pod_start:.2f} now; budget {EC2_CALLS_PER_POD_START}) and "
            f"slower pod starts on bursts (a new node given its {self._burst_size()} at once "
            f"{_burst(outcome.burst_seconds)}; under the current settings it "
            f"{_burst(now.burst_seconds)})."
        )
        applied = self._apply(candidate.changes)
        return Recommendation(
            settings=candidate.changes,
            projected_ips_held=outcome.ips_held,
            ips_returned=returned,
            command=applied.command,
            rationale=_with_warning(rationale, applied),
            current_ips_held=now.ips_held,
            kind="tune",
        )

    def _structural(self, best: tuple[Candidate, Outcome] | None) -> Recommendation:
        now = self.now
        tuning = (
            "no setting returns any"
            if best is None
            else f"the best setting ({best[1].settings.describe()}) returns only "
            f"{now.ips_held - best[1].ips_held}"
        )
        why = (
            f"The subnets have {self.free} of {self.usable} addresses free and {tuning}: the "
            f"{self.pods} pods themselves need more room than the subnets have (simulated on "
            f"{len(self.loads)} nodes, {now.ips_held} addresses held now)."
        )
        # Keep no setting that starves pods (#2650), whatever else is recommended.
        fix: dict[str, str] = {}
        if now.settings.starves_pods:
            fix = dict(best[0].changes) if best is not None else {"WARM_IP_TARGET": "2"}
            why += " MINIMUM_IP_TARGET without WARM_IP_TARGET also starves pods (#2650)."
        associate = (
            f"aws ec2 associate-vpc-cidr-block --vpc-id {self.cluster.vpc_id} "
            f"--cidr-block {SECONDARY_CIDR}"
        )
        if now.settings.custom_networking:
            return Recommendation(
                settings=fix,
                projected_ips_held=now.ips_held,
                ips_returned=0,
                command=f"{associate} && {self._apply(fix).command}" if fix else associate,
                rationale=f"{why} Pods already use custom networking: give the ENIConfig "
                f"subnets more room (a further secondary CIDR, larger subnets).",
                current_ips_held=now.ips_held,
                kind="structural",
            )
        # With custom networking the nodes' own subnets keep only each primary ENI's address.
        projected = len(self.loads)
        changes = {**CUSTOM_NETWORKING, **fix}
        return Recommendation(
            settings=changes,
            projected_ips_held=projected,
            ips_returned=now.ips_held - projected,
            command=f"{associate} && {self._apply(changes).command}",
            rationale=(
                f"{why} Add a secondary CIDR from 100.64.0.0/10 to the VPC, create a subnet in "
                f"it per availability zone and an ENIConfig named after each zone, turn on "
                f"custom networking and replace the nodes: pods then take their addresses "
                f"there and the nodes' subnets keep only one address per node ({projected} "
                f"instead of {now.ips_held}). Each node loses its primary ENI for pods (max "
                f"pods (E-1)*(I-1)+2). The alternative is larger subnets."
            ),
            current_ips_held=now.ips_held,
            kind="structural",
        )

    def _burst_size(self) -> str:
        if self.burst_pods > self.pods:
            return f"pods scaled to the recent peak ({self.burst_pods} pods in all)"
        return "pods"

    def _apply(self, changes: dict[str, str]) -> Applied:
        return apply_command(self.cluster.name, changes, self.addon)


def _burst(seconds: int | None) -> str:
    if seconds is None:
        return "leaves some of them waiting for addresses"
    return f"has them all addressed after {seconds} s"


def _with_warning(rationale: str, applied: Applied) -> str:
    return f"{rationale} {applied.warning}" if applied.warning else rationale
