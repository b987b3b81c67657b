"""Recommend aws-node settings for a cluster and prove them with the CNI model.

Every candidate, and the current settings, is simulated on every node's observed pods under
`spread` (see `evaluate`), each node bounded by its pool subnet: the subnet its pods take
addresses from (its ENIConfig's under custom networking). `choose` keeps the acceptable
candidates and picks the one returning the most addresses. When even that leaves the pool
subnets short, tuning cannot help and the structural fix is recommended instead: a secondary
CIDR that fits the VPC, with every command to get there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

from ipaudit.capacity.room import free_shares
from ipaudit.cni.cni_settings import CniSettings
from ipaudit.cni.subnet_discovery import FIRST_WITH_DISCOVERY, parse_version
from ipaudit.errors import InputError
from ipaudit.recommend.candidates import Candidate, candidates
from ipaudit.recommend.choose import EC2_CALLS_PER_POD_START, Room, choose, short_blocks
from ipaudit.recommend.command import Addon, Applied, apply_command
from ipaudit.recommend.discovery_fix import discovery_commands
from ipaudit.recommend.evaluate import NodeLoad, Outcome, evaluate, node_loads
from ipaudit.recommend.not_modelled import not_modelled, unmodelled_note
from ipaudit.recommend.structural import structural_commands, upgrade_commands
from ipaudit.report import ClusterReport, Recommendation, SubnetChange, SubnetReport
from ipaudit.snapshot import InstanceTypeLimits

PRESSURE_FREE_PCT = 25.0  # IPAUDIT_WARN_FREE_PCT's default (docs/design.md)
STRUCTURAL_FREE_PCT = 10.0  # still below this after tuning: tuning cannot help
LARGE_WARM_SHARE_OF_SUBNETS = 0.10  # a warm pool this share of the subnets is worth tuning
# The subnets a pool's nodes take pod addresses from (`evaluate.pool_subnet`).
Pool = tuple[str, ...]
ZONE_LABEL = "topology.kubernetes.io/zone"
CUSTOM_NETWORKING = {
    "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
    "ENI_CONFIG_LABEL_DEF": ZONE_LABEL,
}


def recommend(
    cluster: ClusterReport,
    limits: Mapping[str, InstanceTypeLimits],
    *,
    peak_pods: int | None = None,
) -> Recommendation | None:
    """Recommended for the nodes aws-node manages on Linux in IPv4; a `not-modelled` answer,
    saying what helps instead, when there are none (Auto Mode, IPv6, another CNI, Windows).
    None when the model cannot judge: no pods known (Kubernetes unreachable), no known
    instance type, or aws-node settings it cannot read.

    `peak_pods` is the cluster's busiest pod count in its recent history, when there is one:
    bursts are sized to it, so no candidate leaves pods pending at the observed peak."""
    unmodelled = not_modelled(cluster)
    if unmodelled is not None:
        return unmodelled
    left_out = unmodelled_note(cluster.nodes)
    cluster = replace(cluster, nodes=[node for node in cluster.nodes if node.aws_node])
    try:
        current = CniSettings.from_env(cluster.cni or {})
    except InputError:
        return None
    if current.ipv6:
        return None
    shares = free_shares(cluster)
    loads = node_loads(cluster, limits, current, peak_pods, free=shares)
    if not loads:
        return None
    recommender = _Recommender(cluster, current, loads, shares)
    recommendation = recommender.recommend()
    said = recommender.shared_note() + left_out
    return (
        replace(recommendation, rationale=recommendation.rationale + said)
        if said
        else (recommendation)
    )


class _Recommender:
    def __init__(
        self,
        cluster: ClusterReport,
        current: CniSettings,
        loads: list[NodeLoad],
        shares: Mapping[str, int],
    ) -> None:
        self.cluster = cluster
        self.loads = loads
        self.shares = shares
        self.addon = (
            None
            if cluster.vpc_cni_addon is None
            else Addon(cluster.vpc_cni_addon, cluster.vpc_cni_addon_configuration)
        )
        self.now = evaluate(current, loads)
        by_id = {subnet.subnet_id: subnet for subnet in cluster.subnets}
        # Where the modelled nodes' pods draw (a subnet, or a zone's pool of several under
        # subnet discovery), and those pools' subnets: what tuning can give back, and where.
        self.members: dict[Pool, list[SubnetReport]] = {
            pool: [by_id[s] for s in pool if s in by_id]
            for pool in sorted({load.pool_subnet for load in loads})
        }
        # By zone and CIDR, as people read them (subnet ids differ from account to account).
        self.pools: list[SubnetReport] = sorted(
            {s.subnet_id: s for group in self.members.values() for s in group}.values(),
            key=lambda s: (s.az, s.cidr, s.subnet_id),
        )
        self.free = sum(subnet.free for subnet in self.pools)
        self.usable = sum(subnet.usable for subnet in self.pools)
        self.held_in: Counter[Pool] = Counter()
        for load in loads:
            self.held_in[load.pool_subnet] += load.ips_held
        self.observed_held = sum(self.held_in.values())
        self.pods = sum(load.pods for load in loads)
        self.burst_pods = sum(load.burst_pods for load in loads)

    def recommend(self) -> Recommendation:
        current = self.now.settings
        pressure = any(subnet.free_pct < PRESSURE_FREE_PCT for subnet in self.pools)
        # Large: more warm than used, and enough to matter to the subnets.
        large_warm_pool = (
            self.now.warm_ips > self.pods
            and self.now.warm_ips >= self.usable * LARGE_WARM_SHARE_OF_SUBNETS
        )
        if not (pressure or large_warm_pool or current.starves_pods):
            return self._keep("the subnets have room and the warm pool is small")
        best, blocked = self._best()
        returned = 0 if best is None else self.now.ips_held - best[1].ips_held
        if pressure and self._free_pct(self.free + max(returned, 0)) < STRUCTURAL_FREE_PCT:
            return self._structural(best)
        if best is not None and (current.starves_pods or returned >= self._worthwhile()):
            return self._tune(*best, blocked)
        return self._keep(
            "no setting returns enough addresses to be worth its cost", blocked=blocked
        )

    def shared_note(self) -> str:
        """Which pool subnets other clusters draw on too, and the share counted here."""
        notes = []
        for subnet in self.pools:
            others = sorted(set(subnet.clusters) - {self.cluster.name})
            if others:
                share = self.shares.get(subnet.subnet_id, subnet.free)
                notes.append(
                    f"{subnet.subnet_id} is shared with {', '.join(others)}: its {subnet.free} "
                    f"free addresses are counted once, {share} of them as this cluster's room"
                )
        return f" {'; '.join(notes)}." if notes else ""

    # -- choosing ---------------------------------------------------------------------------

    def _room(self) -> Room:
        return Room(
            addresses={
                pool: sum(self.shares.get(s.subnet_id, s.free) for s in subnets)
                + self.held_in[pool]
                for pool, subnets in self.members.items()
            },
            free_prefix_blocks={
                pool: sum(s.free_prefix_blocks for s in subnets)
                for pool, subnets in self.members.items()
            },
        )

    def _best(self) -> tuple[tuple[Candidate, Outcome] | None, str]:
        """The best acceptable candidate, and a sentence when prefix delegation would have
        done better but its pool subnets lack the free /28 blocks."""
        room = self._room()
        options = candidates(self.cluster.cni or {}, self.now.settings, self.loads)
        evaluated = [(c, evaluate(c.settings, self.loads)) for c in options]
        best = choose(self.now, evaluated, room)
        beaten = [
            (outcome, short)
            for _, outcome in evaluated
            if (short := short_blocks(self.now, outcome, room))
            and (best is None or outcome.ips_held < best[1].ips_held)
        ]
        if not beaten:
            return best, ""
        outcome, short = min(beaten, key=lambda pair: pair[0].ips_held)
        lacking = "; ".join(
            f"{s.subnets} {'has' if len(s.pool) == 1 else 'have'} {s.free} free /28 blocks "
            f"and {'its' if len(s.pool) == 1 else 'their'} nodes need {s.needed}"
            for s in short
        )
        example = short[0].pool[0]
        return best, (
            f" Prefix delegation ({outcome.settings.describe()}) would hold "
            f"{outcome.ips_held} addresses, but it needs whole free /28 blocks: {lacking}. "
            f"Make room first: reserve a free, /28-aligned range of each such subnet for "
            f"prefixes (`aws ec2 create-subnet-cidr-reservation --subnet-id {example} "
            f"--reservation-type prefix --cidr <range>`) once one is free, or give the nodes a "
            f"new subnet; then prefix delegation can be turned on."
        )

    def _worthwhile(self) -> int:
        """Fewer returned addresses than this are not worth a change: one per node, or 5%."""
        return max(len(self.loads), self.now.ips_held // 20)

    def _free_pct(self, free: int) -> float:
        return 100.0 * free / self.usable if self.usable else 0.0

    def _subnets(self, returned_in: Mapping[Pool, int]) -> list[SubnetChange]:
        """Each pool subnet's free addresses now and after `returned_in` (by pool) comes back.
        A pool of several subnets gets its addresses back where its warm ones are now: in
        proportion to each subnet's `addresses.warm`, the rounding to the warmest."""
        back: Counter[str] = Counter()
        for pool, subnets in self.members.items():
            back.update(split_by_warm(returned_in.get(pool, 0), subnets))
        return [
            SubnetChange(s.subnet_id, s.free, max(0, s.free + back[s.subnet_id]))
            for s in self.pools
        ]

    def _free_line(self, changes: list[SubnetChange]) -> str:
        after = sum(change.free_after for change in changes)
        each = ", ".join(f"{c.subnet_id} {c.free_now} -> {c.free_after}" for c in changes)
        return (
            f"the pool subnets' free addresses go from {self.free} to {after} of {self.usable} "
            f"({each})"
        )

    # -- the three answers ------------------------------------------------------------------

    def _keep(self, why: str, *, blocked: str = "") -> Recommendation:
        now = self.now
        return Recommendation(
            settings={},
            projected_ips_held=now.ips_held,
            ips_returned=0,
            command="",
            rationale=(
                f"Keep the current settings ({now.settings.describe()}): {why}. "
                f"{self._holding()}; the pool subnets have "
                f"{self.free} of {self.usable} free.{blocked}"
            ),
            current_ips_held=now.ips_held,
            kind="keep",
            subnets=self._subnets({}),
        )

    def _tune(self, candidate: Candidate, outcome: Outcome, blocked: str) -> Recommendation:
        now = self.now
        returned = now.ips_held - outcome.ips_held
        settings = outcome.settings.describe()
        changes = self._subnets(
            {
                s: now.held_by_subnet.get(s, 0) - outcome.held_by_subnet.get(s, 0)
                for s in now.held_by_subnet
            }
        )
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
            f"{returned} addresses back, and {self._free_line(changes)}."
            f"{_units_line(now.units - outcome.units, self.cluster)}{starving}"
            f"{_trade_off(now, outcome, self._burst_size())}{blocked}"
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
            subnets=changes,
            units_returned=now.units - outcome.units,
        )

    def _structural(self, best: tuple[Candidate, Outcome] | None) -> Recommendation:
        now = self.now
        current = now.settings
        tuning = (
            "no setting returns any"
            if best is None
            else f"the best setting ({best[1].settings.describe()}) returns only "
            f"{now.ips_held - best[1].ips_held}"
        )
        why = (
            f"The pool subnets have {self.free} of {self.usable} addresses free and {tuning}: "
            f"the {self.pods} pods themselves need more room than the subnets have (simulated "
            f"on {len(self.loads)} nodes, {now.ips_held} addresses held now)."
        )
        # Keep no setting that starves pods (#2650), whatever else is recommended.
        fix: dict[str, str] = {}
        if current.starves_pods:
            fix = dict(best[0].changes) if best is not None else {"WARM_IP_TARGET": "2"}
            why += " MINIMUM_IP_TARGET without WARM_IP_TARGET also starves pods (#2650)."
        by_zone = self._addresses_by_zone()
        version = parse_version(self.cluster.cni_version)
        if not current.custom_networking and (
            self.cluster.subnet_discovery
            or (version is not None and version < FIRST_WITH_DISCOVERY)
        ):
            return self._more_pod_subnets(
                why, fix, by_zone, upgrade=not self.cluster.subnet_discovery
            )
        settings = dict(fix)
        if not current.custom_networking:
            settings = {**CUSTOM_NETWORKING, **fix}
        elif (self.cluster.cni or {}).get("ENI_CONFIG_LABEL_DEF") != ZONE_LABEL:
            settings = {"ENI_CONFIG_LABEL_DEF": ZONE_LABEL, **fix}
        applied = self._apply(settings) if settings else None
        plan = structural_commands(
            self.cluster,
            by_zone,
            aws_node=applied.command if applied is not None else None,
            roll=not current.custom_networking,
            nodes=self._modelled_nodes(),
        )
        if current.custom_networking:
            # New ENIs go to the new subnets; what the nodes hold stays where it is.
            projected, returned_in = now.ips_held, {}
            moved = (
                "Pods already use custom networking: point each zone's ENIConfig at a new, "
                "larger pod subnet; new ENIs take their addresses there."
            )
        else:
            # With custom networking the nodes' own subnets keep only each primary address.
            projected, returned_in = len(self.loads), self._need()
            moved = (
                f"Pods then take their addresses in the new subnets and the nodes' subnets keep "
                f"only one address per node ({projected} instead of {now.ips_held}). Each node "
                f"loses its primary ENI for pods (max pods (E-1)*(I-1)+2)."
            )
            if (self.cluster.cni or {}).get("ENABLE_SUBNET_DISCOVERY") is not None:
                moved += (
                    " Lighter still: set ENABLE_SUBNET_DISCOVERY=true (its default since "
                    "v1.18) and tag a subnet with room kubernetes.io/role/cni=1: no node roll."
                )
        changes = self._subnets(returned_in)
        rationale = f"{why} {plan.summary} {moved} With it, {self._free_line(changes)}."
        return Recommendation(
            settings=settings,
            projected_ips_held=projected,
            ips_returned=now.ips_held - projected,
            command=plan.command,
            rationale=_with_warning(rationale, applied) if applied is not None else rationale,
            current_ips_held=now.ips_held,
            kind="structural",
            subnets=changes,
        )

    def _more_pod_subnets(
        self, why: str, fix: dict[str, str], by_zone: Mapping[str, int], *, upgrade: bool
    ) -> Recommendation:
        """The fix under subnet discovery (after upgrading aws-node to v1.18+ where it is
        older): tag or create subnets for the pods; nothing the nodes hold moves."""
        now = self.now
        first = upgrade_commands(self.cluster) if upgrade else []
        applied = self._apply(fix) if fix else None
        if applied is not None:
            first.append(applied.command)
        plan = discovery_commands(self.cluster, by_zone, first=first)
        tagged = [SubnetChange(s.subnet_id, s.free, s.free) for s in plan.tagged]
        changes = self._subnets({}) + tagged
        older = (
            f" aws-node runs {self.cluster.cni_version}, older than v1.18, which has no subnet "
            f"discovery: upgrade it first (the first commands)."
            if upgrade
            else ""
        )
        rationale = (
            f"{why}{older} {plan.summary} The pods' pools gain {plan.added} addresses: from "
            f"{self.free} free to {self.free + plan.added}."
        )
        return Recommendation(
            settings=fix,
            projected_ips_held=now.ips_held,
            ips_returned=0,
            command=plan.command,
            rationale=_with_warning(rationale, applied) if applied is not None else rationale,
            current_ips_held=now.ips_held,
            kind="structural",
            subnets=changes,
        )

    def _need(self) -> dict[Pool, int]:
        """What each pool's nodes draw for their pods, settled or on a burst, primaries aside."""
        now = self.now
        nodes_in: Counter[Pool] = Counter(load.pool_subnet for load in self.loads)
        return {
            pool: max(now.held_by_subnet.get(pool, 0), now.burst_held_by_subnet.get(pool, 0))
            - nodes_in[pool]
            for pool in nodes_in
        }

    def _addresses_by_zone(self) -> Counter[str]:
        zone_of = {s.subnet_id: s.az for s in self.cluster.subnets}
        by_zone: Counter[str] = Counter(dict.fromkeys({s.az for s in self.cluster.subnets}, 0))
        for pool, addresses in self._need().items():
            by_zone[zone_of.get(pool[0], "")] += max(addresses, 0)
        return by_zone

    def _holding(self) -> str:
        """What the nodes hold under the current settings, in one sentence: the model's steady
        state and, when it differs, what aws-node holds on them at the moment of the audit
        (branch ENIs, which the model leaves to the VPC resource controller, said apart)."""
        now, nodes = self.now, len(self.loads)
        branch = sum(n.branch_enis for n in self.cluster.nodes if n.pods is not None)
        held = self.observed_held - branch
        whose = f"the {nodes} node's" if nodes == 1 else f"the {nodes} nodes'"
        simulated = f"Simulated on {whose} {self.pods} pods"
        besides = f", and {branch} more on branch ENIs outside the warm pool" if branch else ""
        if held == now.ips_held:
            return f"{simulated}, they hold {now.ips_held} addresses ({now.warm_ips} warm){besides}"
        they = "the node holds" if nodes == 1 else "the nodes hold"
        why = (
            "ipamd has not topped the pool up yet"
            if held < now.ips_held
            else "ipamd has not released the rest yet"
        )
        return (
            f"{simulated}, the model's steady state for these settings is {now.ips_held} "
            f"addresses ({now.warm_ips} warm); {they} {held} now ({why}){besides}"
        )

    def _modelled_nodes(self) -> list[tuple[str | None, str]]:
        return [(n.node_name, n.instance_id) for n in self.cluster.nodes if n.pods is not None]

    def _burst_size(self) -> str:
        if self.burst_pods > self.pods:
            return f"pods scaled to the recent peak ({self.burst_pods} pods in all)"
        return "pods"

    def _apply(self, changes: dict[str, str]) -> Applied:
        return apply_command(self.cluster.name, changes, self.addon)


def split_by_warm(addresses: int, subnets: list[SubnetReport]) -> dict[str, int]:
    """A pool's addresses given back, over its subnets: in proportion to each one's warm
    addresses, the rounding to the warmest; taken (negative), all from its first."""
    if len(subnets) == 1 or addresses <= 0:
        return {subnets[0].subnet_id: addresses} if subnets else {}
    warm = {s.subnet_id: s.addresses.get("warm", 0) for s in subnets}
    total = sum(warm.values())
    if total == 0:
        return {subnets[0].subnet_id: addresses}
    shares = {subnet_id: addresses * w // total for subnet_id, w in warm.items()}
    warmest = max(warm, key=lambda subnet_id: (warm[subnet_id], subnet_id))
    shares[warmest] += addresses - sum(shares.values())
    return shares


def _units_line(returned: int, cluster: ClusterReport) -> str:
    """What the change does to the VPC's Network Address Usage (capacity/nau.py)."""
    vpc = cluster.vpc_id
    if returned >= 0:
        return f" In Network Address Usage units of {vpc}: {returned} back."
    return f" In Network Address Usage units of {vpc}: {-returned} more."


def _burst(seconds: int | None) -> str:
    if seconds is None:
        return "leaves some of them waiting for addresses"
    return f"has them all addressed after {seconds} s"


def _trade_off(now: Outcome, outcome: Outcome, burst: str) -> str:
    """The change against the current settings in EC2 calls and in pod starts on a burst, each
    worded from the numbers (more or fewer calls, faster or slower starts); what gets worse is
    the trade-off, what does not is said beside it."""
    calls, calls_now = outcome.calls_per_pod_start, now.calls_per_pod_start
    more = round(calls, 2) - round(calls_now, 2)
    figures = (
        f"{calls:.2f} per pod start against {calls_now:.2f} now; budget {EC2_CALLS_PER_POD_START}"
    )
    words = "more" if more > 0 else "fewer" if more < 0 else "as many"
    clauses = [(more > 0, f"costs {words} EC2 calls ({figures})")]
    # Never addressing every pod is slower than any number of seconds.
    late, late_now = (
        float("inf") if s is None else s for s in (outcome.burst_seconds, now.burst_seconds)
    )
    speed = "slower" if late > late_now else "faster" if late < late_now else "as fast"
    clauses.append(
        (
            late > late_now,
            f"starts pods {speed} on bursts (a new node given its {burst} at once "
            f"{_burst(outcome.burst_seconds)}; under the current settings it "
            f"{_burst(now.burst_seconds)})",
        )
    )
    worse = [clause for is_worse, clause in clauses if is_worse]
    rest = [clause for is_worse, clause in clauses if not is_worse]
    if not worse:
        return f" Nothing is traded for it: it {' and '.join(rest)}."
    also = f", while it {' and '.join(rest)}" if rest else ""
    return f" The trade-off: it {' and '.join(worse)}{also}."


def _with_warning(rationale: str, applied: Applied) -> str:
    return f"{rationale} {applied.warning}" if applied.warning else rationale
