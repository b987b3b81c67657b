"""Every kind of finding, declared once: what its resource is, how its severity is decided, and
the line the README's "What it finds" table shows for it.

The alerting rules (dashboards/ipaudit-alerts.yaml, rendered by `ipaudit.alert_rules`) and the
README table are made from this list, and a test finds every kind the analysis can raise, so a
new kind cannot ship without its rule and its documentation. Plain data: the CLI imports it
without loading the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipaudit.report import Severity


@dataclass(frozen=True)
class FindingKind:
    kind: str
    severities: tuple[Severity, ...]
    # What the finding's `resource` names, and the alert label that carries it ("" when the
    # resource is the cluster itself: the `cluster` label already names it).
    about: str
    resource_label: str
    # How its severity is decided: the README's "when" cell, word for word.
    when: str
    # Judged from the cluster's Kubernetes API: a cycle that could not read that API cannot
    # say it is gone, so serve-metrics keeps serving it (stale) until the API answers again.
    needs_kubernetes: bool = False

    @property
    def alert(self) -> str:
        """The Prometheus alert name: `subnet_headroom` alerts as `IpauditSubnetHeadroom`."""
        return "Ipaudit" + "".join(part.title() for part in self.kind.split("_"))


FINDING_KINDS: tuple[FindingKind, ...] = (
    FindingKind(
        "subnet_headroom",
        ("CRITICAL", "WARNING"),
        "the subnet (its id)",
        "subnet",
        "CRITICAL: free addresses below `IPAUDIT_CRIT_FREE_PCT`, or fewer than one more node of "
        "the cluster's largest aws-node instance type takes from this subnet at start-up under "
        "the current aws-node settings (the capacity model: where nodes launch, its own address "
        "and its primary ENI's pool, 10 for an m5.large under the defaults, with subnet discovery "
        "too; 1 when custom networking or discovery's `=0` moves its pods off the primary ENI; "
        "where only pods draw, the rest when it is the zone's only place for new ENIs); below "
        "the thresholds a launch subnet's message counts how many more nodes can launch in it; "
        "a control-plane-only subnet: fewer than the 6 free addresses EKS requires. WARNING: free "
        "addresses below `IPAUDIT_WARN_FREE_PCT`; a control-plane-only subnet: fewer than the 16 "
        "EKS recommends (unless it is smaller than that, like a /28)",
    ),
    FindingKind(
        "pod_pool_headroom",
        ("CRITICAL", "WARNING"),
        "the zone whose pods draw on the pool",
        "az",
        "under subnet discovery, the subnets a zone's new ENIs may go to (not one tagged `=0`): "
        "CRITICAL when none of them can hold one more ENI of the largest type (each lands whole "
        "in one subnet), or together below `IPAUDIT_CRIT_FREE_PCT`; WARNING below "
        "`IPAUDIT_WARN_FREE_PCT`",
    ),
    FindingKind(
        "pods_without_addresses",
        ("CRITICAL",),
        "the cluster",
        "",
        "pods whose sandbox failed in the last hour because no IP address could be assigned "
        "(`FailedCreatePodSandBox ... failed to assign an IP address to container` events), "
        "naming the count, pods and nodes",
        needs_kubernetes=True,
    ),
    FindingKind(
        "eks_health",
        ("CRITICAL", "WARNING"),
        "the issue code",
        "issue",
        "an issue in DescribeCluster's `health.issues`; `InsufficientFreeAddresses` is "
        "CRITICAL, any other code a WARNING",
    ),
    FindingKind(
        "subnet_forecast",
        ("CRITICAL", "WARNING"),
        "the subnet (its id)",
        "subnet",
        "the subnet's free addresses, trended over the last 14 days of stored history "
        "(`IPAUDIT_TABLE`; 3 days with data at least), run out within 3 days (CRITICAL) or 14 "
        "days (WARNING); a subnet already at 0 free has its `subnet_headroom` finding instead "
        "([docs/alerts.md](docs/alerts.md))",
    ),
    FindingKind(
        "leaked_enis",
        ("WARNING",),
        "the VPC",
        "vpc",
        "CNI ENIs (`aws-K8S-*` description or the CNI's tags) left `available` for 5 minutes or "
        "more after their `node.k8s.amazonaws.com/createdAt` tag (younger ones are still being "
        "attached), and `available` branch ENIs of security groups for pods, holding addresses",
    ),
    FindingKind(
        "warm_pool_waste",
        ("WARNING",),
        "the cluster",
        "",
        "the cluster's subnets are under pressure and at least 20% of the pod addresses its "
        "nodes hold are idle",
        needs_kubernetes=True,
    ),
    FindingKind(
        "scale_ceiling",
        ("CRITICAL", "WARNING"),
        "the node group or NodePool (`nodegroup/NAME`, `nodepool/NAME`)",
        "group",
        "CRITICAL: a managed node group or Karpenter NodePool cannot start a single more node: "
        "no zone of its subnets has a new node's start-up addresses (or, with prefix "
        "delegation, its free /28 blocks) — while its maximum allows more (a NodePool without "
        "`spec.limits` always does; value: the nodes it can still start). WARNING: it can start "
        "some, but fewer than its maximum allows; the message names the zones that run out, the "
        'first first (see "Scale ceilings")',
    ),
    FindingKind(
        "network_address_usage",
        ("CRITICAL", "WARNING"),
        "the VPC",
        "vpc",
        "the VPC's Network Address Usage units (counted from its ENIs with AWS's weights: an "
        "address or a /28 prefix is 1, a load balancer's or endpoint's zone, a NAT gateway, a "
        'Lambda ENI 6; see "Network Address Usage") leave free below `IPAUDIT_CRIT_FREE_PCT` '
        "(CRITICAL) or `IPAUDIT_WARN_FREE_PCT` (WARNING) of its quota (Service Quotas' "
        "`L-BB24F6E5` where readable, else the default 64,000, said so); the message gives the "
        "units aws-node's warm pools hold",
    ),
    FindingKind(
        "peered_network_address_usage",
        ("CRITICAL", "WARNING"),
        "the VPC",
        "vpc",
        "the VPC and its same-region peers (`DescribeVpcPeeringConnections`, active) together "
        "leave free below `IPAUDIT_CRIT_FREE_PCT` (CRITICAL) or `IPAUDIT_WARN_FREE_PCT` "
        "(WARNING) of the peered quota (`L-CD17FD4B`, default 128,000); only when every peer "
        "is in an audited account and region (else the report says the total is unknown)",
    ),
    FindingKind(
        "network_address_usage_forecast",
        ("CRITICAL", "WARNING"),
        "the VPC",
        "vpc",
        "the VPC's free Network Address Usage units, trended over the last 14 days of stored "
        "history as `subnet_forecast` trends a subnet, run out within 3 days (CRITICAL) or 14 "
        "days (WARNING)",
    ),
    FindingKind(
        "coverage",
        ("WARNING",),
        "the cluster, or `ACCOUNT/REGION`",
        "scope",
        "an account, region or cluster API could not be audited",
    ),
)

KINDS: dict[str, FindingKind] = {k.kind: k for k in FINDING_KINDS}
# Findings at these severities page; INFO is for the report only.
ALERTING: tuple[Severity, ...] = ("CRITICAL", "WARNING")


def readme_table() -> str:
    """The README's "What it finds" table, one row per kind."""
    rows = [
        "| kind | severity | resource | when |",
        "|---|---|---|---|",
        *(
            f"| `{k.kind}` | {' / '.join(k.severities)} | {k.about} | {k.when} |"
            for k in FINDING_KINDS
        ),
    ]
    return "\n".join(rows) + "\n"
