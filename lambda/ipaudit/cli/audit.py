"""`ipaudit audit`: one read-only audit of every configured account and region."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ipaudit.cli.options import (
    add_aws_flags,
    add_setting_flags,
    seconds_flag,
    session_from,
    settings_from,
)
from ipaudit.render.csv_rows import render_csv
from ipaudit.render.openmetrics import DEFAULT_NODE_SERIES, render_openmetrics
from ipaudit.render.text import DEFAULT_WIDTH, render_report
from ipaudit.report import SEVERITY_RANK, Report
from ipaudit.words import plural

if TYPE_CHECKING:
    import boto3

    from ipaudit.pipeline import AfterAudit
    from ipaudit.settings import Settings

EXIT_FAIL_ON = 3
EXIT_DELIVERY = 4  # Slack or SNS did not accept everything: it is pending for the next run
EXIT_STORAGE = 5  # the table failed mid-run: the report is printed but not (fully) stored
# Not one cluster read (every one refused, say, with 401), or with `--fail-on coverage` any
# scope not fully audited: "0 of 3 scopes audited" must not look like a clean run to CI.
EXIT_COVERAGE = 6
COVERAGE = "COVERAGE"  # `--fail-on coverage`, beside the severities
MAX_DEADLINE = 86400.0


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="audit every configured account and region (read-only)"
    )
    add_output_flags(parser)
    add_audit_flags(parser)
    parser.set_defaults(run=run)


def add_audit_flags(parser: argparse.ArgumentParser) -> None:
    """What one audit takes, whoever runs it (`audit`, each cycle of `serve-metrics`)."""
    parser.add_argument(
        "--no-notify",
        action="store_true",
        help="store the run but post nothing, even when Slack or SNS is configured",
    )
    parser.add_argument(
        "--deadline",
        type=deadline_seconds,
        metavar="SECONDS",
        help="end the whole run (audit, table, Slack, SNS) within this many seconds; what is "
        "not audited by then is a coverage error (default: no deadline; serve-metrics: "
        "900 per cycle)",
    )
    add_aws_flags(parser)
    add_setting_flags(parser)


OUTPUTS = ("text", "json", "csv", "openmetrics")

deadline_seconds = seconds_flag(0, MAX_DEADLINE, low_allowed=False)


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    # `--output csv --json` asks for two things: refused, not the last one silently taken.
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument(
        "--output",
        choices=OUTPUTS,
        default="text",
        help="text for people (default), the JSON report, CSV rows per subnet and node, or "
        "OpenMetrics text for Prometheus",
    )
    formats.add_argument(
        "--json", dest="output", action="store_const", const="json", help="same as --output json"
    )
    parser.add_argument(
        "--fail-on",
        action="append",
        choices=[*sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__), COVERAGE],
        type=str.upper,
        metavar="SEVERITY|coverage",
        help="exit 3 when a finding of this severity or worse is found; coverage: exit 6 when "
        "any scope was not fully audited (repeatable). Exit 6 also, always, when not one "
        "cluster could be read",
    )
    add_metrics_nodes_flag(parser)


def add_metrics_nodes_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-nodes",
        type=node_series_flag,
        default=DEFAULT_NODE_SERIES,
        metavar="N|all",
        help="OpenMetrics: per-node series for at most N nodes per cluster, those with the "
        f"most warm addresses (default {DEFAULT_NODE_SERIES}; 0: none; all: every node)",
    )


def node_series_flag(raw: str) -> int | None:
    if raw == "all":
        return None
    if not raw.isdigit():
        raise argparse.ArgumentTypeError(f"{raw!r} is not a count of nodes (0 or more, or all)")
    return int(raw)


def emit(report: Report, args: argparse.Namespace) -> int:
    """Print the report as asked and turn --fail-on into the exit code."""
    if args.output == "json":
        sys.stdout.write(report.to_json(indent=2) + "\n")
    elif args.output == "csv":
        sys.stdout.write(render_csv(report))
    elif args.output == "openmetrics":
        sys.stdout.write(render_openmetrics(report, node_series=args.metrics_nodes))
    else:
        sys.stdout.write(render_report(report, terminal_width()))
    code = exit_code(report, args.fail_on or ())
    if code == EXIT_COVERAGE:
        failed = sum(c.status == "error" for c in report.coverage)
        why = "not one cluster could be read" if nothing_read(report) else "--fail-on coverage"
        progress(f"{failed} of {len(report.coverage)} scopes not fully audited: {why} (exit 6)")
    return code


def exit_code(report: Report, fail_on: Collection[str]) -> int:
    """The report's exit code under `--fail-on`: the highest that applies, 0 when none does."""
    codes = [0]
    ranks = [SEVERITY_RANK[s] for s in fail_on if s in SEVERITY_RANK]
    if ranks and any(SEVERITY_RANK[f.severity] >= min(ranks) for f in report.findings):
        codes.append(EXIT_FAIL_ON)
    gaps = any(c.status == "error" for c in report.coverage)
    if nothing_read(report) or (COVERAGE in fail_on and gaps):
        codes.append(EXIT_COVERAGE)
    return max(codes)


def nothing_read(report: Report) -> bool:
    """Scopes failed and not one cluster was audited fully: every cluster refused the token, or
    every account x region failed. A scope without clusters read fine is no cluster read."""
    failed = any(c.status == "error" for c in report.coverage)
    return failed and not any(c.status == "ok" and c.cluster for c in report.coverage)


def terminal_width() -> int:
    """The terminal's columns (`COLUMNS` wins); DEFAULT_WIDTH when stdout is a pipe or a file."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def progress(message: str) -> None:
    print(f"ipaudit: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    settings, session = audit_setup(args)
    outcome = audit_once(settings, session, args)
    code = emit(outcome.report, args)
    # When several apply, the highest wins (docs/commands.md).
    return max(
        code,
        EXIT_STORAGE if outcome.storage_error else 0,
        EXIT_DELIVERY if outcome.delivery_failed else 0,
    )


def audit_setup(args: argparse.Namespace) -> tuple[Settings, boto3.Session]:
    """The settings and session of `add_audit_flags`, checked before anything is audited: a bad
    value or a missing table stops the command here (exit 1)."""
    # Here, not at the top: `ipaudit --help` never loads boto3.
    from ipaudit.aws.session import make_client
    from ipaudit.store.runs import check_table

    settings = settings_from(args)
    session = session_from(args)
    if settings.table:
        check_table(make_client(session, "dynamodb"), settings.table)  # before, not after
    return settings, session


def audit_once(settings: Settings, session: boto3.Session, args: argparse.Namespace) -> AfterAudit:
    """One audit and what follows it (forecast, store, alert), progress on stderr."""
    from ipaudit.audit import run_audit
    from ipaudit.audit.bounded import collection_deadline
    from ipaudit.pipeline import after_audit

    # --deadline bounds the whole run: collection, then the table, Slack and SNS.
    started = time.monotonic()
    end = None if args.deadline is None else started + args.deadline
    report = run_audit(settings, session, progress=progress, deadline=collection_deadline(end))
    outcome = after_audit(report, settings, session, notify=not args.no_notify, deadline=end)
    outcome = replace(
        outcome,
        elapsed_seconds=round(time.monotonic() - started, 1),
        deadline_seconds=args.deadline,
    )
    for line in delivery_lines(outcome):
        progress(line)
    return outcome


def late_line(outcome: AfterAudit) -> str | None:
    """How many announcements an earlier run could not deliver this run did: each change once,
    whatever number of destinations took it, and only what a destination accepted."""
    accepted = outcome.late_delivered
    if not accepted:
        return None
    changes = {(d.change.finding.id, d.change.change, d.at) for d in accepted}
    per = {name: sum(d.destination == name for d in accepted) for name in ("slack", "sns")}
    where = ", ".join(f"{_NAMES[name]} {count}" for name, count in per.items() if count)
    return f"delivered {plural(len(changes), 'announcement')} an earlier run could not ({where})"


_NAMES = {"slack": "Slack", "sns": "SNS"}


def delivery_lines(outcome: AfterAudit) -> list[str]:
    """What happened to the findings after the audit, for the terminal (never the webhook)."""
    lines = []
    if outcome.stored:
        lines.append("run stored")
    if outcome.slack_posted:
        lines.append(f"Slack: posted {plural(outcome.slack_changes, 'change')}")
    if outcome.slack_error:
        lines.append(f"Slack: failed: {outcome.slack_error}")
    if outcome.sns_published:
        lines.append(f"SNS: published {plural(outcome.sns_published, 'message')}")
    if outcome.sns_error:
        lines.append(f"SNS: failed: {outcome.sns_error}")
    if outcome.security_hub_imported:
        lines.append(f"Security Hub: imported {plural(outcome.security_hub_imported, 'finding')}")
    lines += [f"Security Hub: failed: {error}" for error in outcome.security_hub_errors]
    if late := late_line(outcome):
        lines.append(late)
    if note := outcome.held_note():
        lines.append(note)
    for finding, why in outcome.kept:
        where = "/".join(p for p in (finding.account_id, finding.region, finding.cluster) if p)
        what = f"{finding.kind} {finding.resource} in {where}"
        lines.append(f"kept open, not evaluated this run: {what}: {why}")
    if outcome.delivery_failed:
        lines.append("what was not delivered is pending: the next run sends it")
    if outcome.storage_error:
        lines.append(f"storage failed: {outcome.storage_error}")
    if outcome.deadline_seconds is not None and outcome.elapsed_seconds is not None:
        lines.append(
            f"run took {outcome.elapsed_seconds:g} s of its {outcome.deadline_seconds:g} s deadline"
        )
    return lines
