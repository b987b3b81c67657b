"""`ipaudit demo`: the real audit, run on the embedded simulated organization.

After the audit it does what the Lambda does next, without posting anything: a week of history
is seeded so the forecast and the digest have data, the alerts on-call would get are shown, and
the weekly digest is written as HTML for a browser.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ipaudit.analysis.what_if import Question, answer_report
from ipaudit.audit import run_audit
from ipaudit.cli.audit import add_output_flags, emit, progress
from ipaudit.digest import weekly_digest
from ipaudit.errors import InputError
from ipaudit.pipeline import AfterAudit, after_audit
from ipaudit.report import Report
from ipaudit.settings import Settings

DEFAULT_DIGEST = Path("ipaudit-demo-digest.html")
DEMO_EXTRA_MISSING = (
    "ipaudit: error: the demo needs moto's server, which the demo extra installs: "
    "pip install 'ipaudit[demo]' (from a clone: pip install '.[demo]', or make demo)"
)
DEFAULT_KUBECONFIG = Path("ipaudit-demo.kubeconfig")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="audit an embedded simulated AWS organization (moto + a local Kubernetes API)"
    )
    add_output_flags(parser)
    parser.add_argument(
        "--digest-html",
        type=Path,
        default=DEFAULT_DIGEST,
        metavar="FILE",
        help=f"where to write the weekly digest (default: {DEFAULT_DIGEST})",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the simulated organization running for the aws CLI and kubectl, until Ctrl-C",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=DEFAULT_KUBECONFIG,
        metavar="FILE",
        help=f"with --serve: where to write the kubeconfig (default: {DEFAULT_KUBECONFIG})",
    )
    parser.set_defaults(run=run)


def render_alerts(outcome: AfterAudit) -> str:
    """What Slack and SNS would receive, as on-call would read it."""
    if not outcome.changes:
        return "Alerts: nothing new, worse or resolved: nothing would be posted\n"
    lines = [f"Alerts that would be posted ({len(outcome.changes)} change(s)):"]
    if outcome.slack_payload is not None:
        lines.append(f"  Slack: {outcome.slack_payload.get('text', '')}")
    lines += [f"  SNS:   {message.subject}" for message in outcome.sns_messages]
    return "\n".join(lines) + "\n"


# The question `ipaudit what-if` answers in the demo: the article's node group grows.
WHAT_IF_NODES = 10


def what_if_line(report: Report) -> str:
    """One `ipaudit what-if` answer on the article's cluster (README "What if")."""
    from ipaudit_sim.article import NODE_GROUP, NODE_TYPE

    question = Question(add_nodes=WHAT_IF_NODES, instance_type=NODE_TYPE, group=NODE_GROUP)
    [answer] = answer_report(report, question)
    return answer.line


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("moto") is None:  # the simulated AWS runs on moto's server
        print(DEMO_EXTRA_MISSING, file=sys.stderr)
        return 1
    if args.serve:
        if args.output != "text" or args.fail_on:
            raise InputError("--serve runs no audit: --output and --fail-on do not apply to it")
        from ipaudit_sim.serve import serve

        return serve(args.kubeconfig)
    from ipaudit_sim.history_seed import seed_history
    from ipaudit_sim.world import article_world

    quiet = args.output != "text"  # JSON and CSV are for pipes: nothing else on stdout
    say = (lambda _message: None) if quiet else progress
    say("starting the simulated organization (moto server, Kubernetes API servers)")
    with article_world(os.environ) as world:
        settings = Settings.from_env(world.env)
        report = run_audit(settings, world.session, progress=say)
        seed_history(report, settings, world.session)
        outcome = after_audit(report, settings, world.session, dry_run=True)
        code = emit(outcome.report, args)
        digest = weekly_digest(settings, world.session, html_path=args.digest_html)
    if not quiet:
        sys.stdout.write("\n" + what_if_line(outcome.report) + "\n")
        sys.stdout.write("\n" + render_alerts(outcome))
        sys.stdout.write(
            f"\nWeekly digest ({digest.subject!r}) written to {args.digest_html.resolve()}\n"
        )
    return code
