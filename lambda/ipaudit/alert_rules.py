"""dashboards/ipaudit-alerts.yaml, rendered from the finding kinds (`ipaudit.finding_kinds`):
`make rules` writes it, and a test fails when the shipped file differs from what this renders.

The findings are the alerts: one rule per kind over `ipaudit_finding`, so each unmuted CRITICAL
or WARNING finding is exactly one alert, with the finding's own severity and the labels that name
its resource. The audit has already decided the severity (its thresholds, the CNI model, the
forecast): no rule repeats that reckoning, so no rule can disagree with the report or page twice
for one problem. The exporter's own health has its own few rules, none about a finding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ipaudit.finding_kinds import ALERTING, FINDING_KINDS, FindingKind

# The finding's severity, as Alertmanager routes expect it (`critical`, `warning`).
SEVERITY_LABEL = "{{ $labels.severity | toLower }}"
# An audit changes the figures once per interval: a finding present for two scrapes is real.
FOR = "5m"
# Holds a firing alert through a short gap in its series (a restart, a failed scrape, a scope
# that failed before the exporter had served it) instead of resolving and paging again;
# Prometheus 2.42 and later.
KEEP_FIRING_FOR = "15m"

HEADER = """\
# Prometheus alerting rules for `ipaudit serve-metrics` (docs/metrics.md).
# Rendered from lambda/ipaudit/finding_kinds.py by `make rules`: change that file, not this one
# (a test fails when they differ).
#
# ipaudit-findings: one rule per finding kind over `ipaudit_finding`, one alert per unmuted
# CRITICAL or WARNING finding, with the finding's own severity and the labels naming its resource
# (account, region, cluster, and subnet, az, vpc, group, issue or scope). The thresholds are the
# audit's (IPAUDIT_WARN_FREE_PCT, IPAUDIT_CRIT_FREE_PCT, the CNI model, the forecast): nothing to
# keep in step here. A muted finding (`ipaudit mute`) has muted="true" and pages no one.
# `keep_firing_for` (Prometheus 2.42+) keeps an alert firing through a short gap in its series.
#
# ipaudit-exporter: the exporter's own health, never a finding's.
"""


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    keep_firing_for: str = ""


def finding_rule(kind: FindingKind) -> Rule:
    severities = "|".join(ALERTING)
    selector = f'ipaudit_finding{{kind="{kind.kind}", muted="false", severity=~"{severities}"}}'
    expr = selector
    if kind.resource_label:
        # A ceiling's resource is `nodegroup/NAME` or `nodepool/NAME`: the group is the NAME.
        pattern = "[^/]+/(.*)" if kind.resource_label == "group" else "(.*)"
        expr = (
            f"label_replace(\n  {selector},\n"
            f'  "{kind.resource_label}", "$1", "resource", "{pattern}"\n)'
        )
    where = "{{ $labels.account }}/{{ $labels.region }}, cluster {{ $labels.cluster }}"
    return Rule(
        alert=kind.alert,
        expr=expr,
        for_=FOR,
        keep_firing_for=KEEP_FIRING_FOR,
        severity=SEVERITY_LABEL,
        summary=f"{kind.kind} {{{{ $labels.severity }}}}: {{{{ $labels.resource }}}} ({where})",
        description=(
            f"ipaudit's {kind.kind} finding on {kind.about}; `ipaudit audit` prints its message "
            f"and the aws-node settings that give addresses back. When: {kind.when}"
        ),
    )


EXPORTER_RULES = (
    Rule(
        alert="IpauditAuditsFailing",
        expr="ipaudit_exporter_failed_audits >= 3",
        for_="0m",
        severity="warning",
        summary="ipaudit serve-metrics: 3 or more audits in a row failed",
        description=(
            "Three audits in a row raised or could read no cluster (its stderr says why): the "
            "findings served, and their alerts, are the last good audit's "
            "(ipaudit_scope_stale_since_timestamp_seconds names the scopes)."
        ),
    ),
    Rule(
        alert="IpauditNoReport",
        expr="ipaudit_up == 0",
        for_="30m",
        severity="warning",
        summary="ipaudit serve-metrics has served no report for 30 minutes",
        description=(
            "The exporter is up but found no stored run and its first audit has not finished; "
            "its stderr says why."
        ),
    ),
    Rule(
        alert="IpauditRunStale",
        # Not while IpauditAuditsFailing says the same thing.
        expr=(
            "(time() - ipaudit_run_timestamp_seconds > 3 * 3600)\n"
            "  unless on (instance, job) (ipaudit_exporter_failed_audits >= 3)"
        ),
        for_="10m",
        severity="warning",
        summary="ipaudit's last audit is over 3 hours old",
        description=(
            "The figures are from an audit over 3 hours ago: the exporter stopped auditing, or "
            "the textfile or pushgateway copy is no longer refreshed."
        ),
    ),
    Rule(
        alert="IpauditNoData",
        expr="absent(ipaudit_run_timestamp_seconds)",
        for_="15m",
        severity="warning",
        summary="Prometheus has no ipaudit metrics",
        description=(
            "No ipaudit series for 15 minutes: the exporter is down or not scraped, so no "
            "finding can alert."
        ),
    ),
)


def render_rules() -> str:
    groups = (
        ("ipaudit-findings", [finding_rule(kind) for kind in FINDING_KINDS]),
        ("ipaudit-exporter", list(EXPORTER_RULES)),
    )
    lines = [HEADER.rstrip("\n"), "groups:"]
    for name, rules in groups:
        lines += [f"  - name: {name}", "    rules:"]
        for rule in rules:
            lines += _rule_lines(rule)
    return "\n".join(lines) + "\n"


def _rule_lines(rule: Rule) -> list[str]:
    lines = [f"      - alert: {rule.alert}", "        expr: |-"]
    lines += [f"          {line}" for line in rule.expr.splitlines()]
    lines.append(f"        for: {rule.for_}")
    if rule.keep_firing_for:
        lines.append(f"        keep_firing_for: {rule.keep_firing_for}")
    lines += [
        "        labels:",
        f"          severity: {_quoted(rule.severity)}",
        "        annotations:",
        f"          summary: {_quoted(rule.summary)}",
        f"          description: {_quoted(rule.description)}",
    ]
    return lines


def _quoted(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar: every character survives as written.
    return json.dumps(text, ensure_ascii=False)


if __name__ == "__main__":
    print(render_rules(), end="")
