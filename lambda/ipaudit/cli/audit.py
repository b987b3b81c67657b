"""`ipaudit audit`: one read-only audit of every configured account and region."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from typing import Any

from ipaudit.audit import run_audit
from ipaudit.aws.session import make_client
from ipaudit.cli.options import add_aws_flags, add_setting_flags, session_from, settings_from
from ipaudit.pipeline import AfterAudit, after_audit
from ipaudit.report import SEVERITY_RANK, Report
from ipaudit.report_csv import render_csv
from ipaudit.store.runs import check_table
from ipaudit.terminal import DEFAULT_WIDTH, render_report

EXIT_FAIL_ON = 3
EXIT_DELIVERY = 4  # Slack or SNS did not accept everything: it is pending for the next run
EXIT_STORAGE = 5  # the table failed mid-run: the report is printed but not (fully) stored
MAX_DEADLINE = 86400.0


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="audit every configured account and region (read-only)"
    )
    add_output_flags(parser)
    parser.add_argument(
        "--no-notify",
        action="store_true",
        help="store the run but post nothing, even when Slack or SNS is configured",
    )
    parser.add_argument(
        "--deadline",
        type=deadline_seconds,
        metavar="SECONDS",
        help="stop auditing after this many seconds; what is not audited by then is a "
        "coverage error (default: no deadline)",
    )
    add_aws_flags(parser)
    add_setting_flags(parser)
    parser.set_defaults(run=run)


OUTPUTS = ("text", "json", "csv")


def deadline_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= MAX_DEADLINE:
        raise argparse.ArgumentTypeError(f"{raw!r} must be above 0 and at most {MAX_DEADLINE}")
    return value


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        choices=OUTPUTS,
        default="text",
        help="text for people (default), the JSON report, or CSV rows per subnet and node",
    )
    parser.add_argument(
        "--json", dest="output", action="store_const", const="json", help="same as --output json"
    )
    parser.add_argument(
        "--fail-on",
        choices=sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__),
        type=str.upper,
        help="exit 3 when a finding of this severity or worse is found",
    )


def emit(report: Report, args: argparse.Namespace) -> int:
    """Print the report as asked and turn --fail-on into the exit code."""
    if args.output == "json":
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.output == "csv":
        sys.stdout.write(render_csv(report))
    else:
        sys.stdout.write(render_report(report, terminal_width()))
    if args.fail_on and any(
        SEVERITY_RANK[f.severity] >= SEVERITY_RANK[args.fail_on] for f in report.findings
    ):
        return EXIT_FAIL_ON
    return 0


def terminal_width() -> int:
    """The terminal's columns (`COLUMNS` wins); DEFAULT_WIDTH when stdout is a pipe or a file."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def progress(message: str) -> None:
    print(f"ipaudit: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    session = session_from(args)
    deadline = None if args.deadline is None else time.monotonic() + args.deadline
    if settings.table:
        check_table(make_client(session, "dynamodb"), settings.table)  # before, not after
    report = run_audit(settings, session, progress=progress, deadline=deadline)
    outcome = after_audit(report, settings, session, notify=not args.no_notify)
    for line in delivery_lines(outcome):
        progress(line)
    code = emit(outcome.report, args)
    if outcome.storage_error:
        return EXIT_STORAGE
    if outcome.delivery_failed:
        return EXIT_DELIVERY
    return code


def delivery_lines(outcome: AfterAudit) -> list[str]:
    """What happened to the findings after the audit, for the terminal (never the webhook)."""
    lines = []
    if outcome.stored:
        lines.append("run stored")
    if outcome.slack_posted:
        lines.append(f"Slack: posted {len(outcome.changes)} change(s)")
    if outcome.slack_error:
        lines.append(f"Slack: failed: {outcome.slack_error}")
    if outcome.sns_published:
        lines.append(f"SNS: published {outcome.sns_published} message(s)")
    if outcome.sns_error:
        lines.append(f"SNS: failed: {outcome.sns_error}")
    if outcome.security_hub_imported:
        lines.append(f"Security Hub: imported {outcome.security_hub_imported} finding(s)")
    lines += [f"Security Hub: failed: {error}" for error in outcome.security_hub_errors]
    if outcome.late:
        lines.append(f"delivered {len(outcome.late)} announcement(s) an earlier run could not")
    if outcome.delivery_failed:
        lines.append("what was not delivered is pending: the next run sends it")
    if outcome.storage_error:
        lines.append(f"storage failed: {outcome.storage_error}")
    return lines
