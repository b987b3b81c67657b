"""`ipaudit audit`: one read-only audit of every configured account and region."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ipaudit.audit import run_audit
from ipaudit.cli.options import add_aws_flags, add_setting_flags, session_from, settings_from
from ipaudit.errors import InputError
from ipaudit.report import SEVERITY_RANK, Report
from ipaudit.terminal import render_report

EXIT_FAIL_ON = 3


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="audit every configured account and region (read-only)"
    )
    add_output_flags(parser)
    add_aws_flags(parser)
    add_setting_flags(parser)
    parser.set_defaults(run=run)


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument(
        "--fail-on",
        choices=sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__),
        type=str.upper,
        help="exit 3 when a finding of this severity or worse is found",
    )


def emit(report: Report, args: argparse.Namespace) -> int:
    """Print the report as asked and turn --fail-on into the exit code."""
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_report(report))
    if args.fail_on and any(
        SEVERITY_RANK[f.severity] >= SEVERITY_RANK[args.fail_on] for f in report.findings
    ):
        return EXIT_FAIL_ON
    return 0


def progress(message: str) -> None:
    print(f"ipaudit: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    session = session_from(args)
    try:
        report = run_audit(settings, session, progress=progress)
    except NoCredentialsError:
        raise InputError("AWS credentials: none found (set AWS_PROFILE or use --profile)") from None
    except (ClientError, BotoCoreError) as error:
        # Only the caller's own identity or target list can fail here; targets fail softly.
        raise InputError(f"AWS: {error}") from None
    return emit(report, args)
