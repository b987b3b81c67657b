"""`ipaudit demo`: the real audit, run on the embedded simulated organization.

After the audit it does what the Lambda does next, inside the simulation: a week of history is
seeded so the forecast and the digest have data, the alert changes are recorded in the simulated
table and published to the simulated SNS topic (nothing leaves the machine; Slack is shown, not
posted), and the weekly digest is written as HTML for a browser. The digest reads the same table,
so the alerts it counts are the ones just raised.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipaudit.cli.audit import add_output_flags, emit, progress, terminal_width
from ipaudit.errors import InputError
from ipaudit.render.text import DEFAULT_WIDTH, wrap
from ipaudit.report import SEVERITY_RANK, Report
from ipaudit.settings import Settings
from ipaudit.words import plural

if TYPE_CHECKING:
    from ipaudit.notify.sns import SnsMessage
    from ipaudit.pipeline import AfterAudit

DIGEST_NAME = "ipaudit-demo-digest.html"
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
        "--digest",
        "--digest-html",
        dest="digest",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"where to write the weekly digest (default: {DIGEST_NAME} in a new temporary "
        "folder, so no run litters the working directory)",
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
        help=f"with --serve: where to write the kubeconfig (default: {DEFAULT_KUBECONFIG}); "
        "an existing FILE is refused unless --force",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --serve: replace an existing --kubeconfig FILE while serving; it is put "
        "back when the demo stops",
    )
    parser.set_defaults(run=run)


def render_alerts(outcome: AfterAudit, width: int = DEFAULT_WIDTH) -> str:
    """The alerts the run raised, as on-call reads them: the Slack message (Slack is not set
    up in the demo, so it is shown, not posted) and what the simulated SNS topic received."""
    if not outcome.changes:
        return "Alerts: nothing new, worse or resolved: nothing posted\n"
    from ipaudit.render.slack_blocks import build_payload

    slack = build_payload(outcome.changes, outcome.report).get("text", "")
    lines = [
        f"Alerts raised ({plural(len(outcome.changes), 'change')}):",
        wrap(f"Slack: {slack}", width, "  ", " " * 7),
        *(wrap(f"SNS:   {m.subject}", width, "  ", " " * 7) for m in _worst_first(outcome)),
    ]
    return "\n".join(lines) + "\n"


def _worst_first(outcome: AfterAudit) -> list[SnsMessage]:
    rank = SEVERITY_RANK.get
    return sorted(outcome.sns_messages, key=lambda m: -rank(m.attributes.get("severity", ""), -1))


# The question `ipaudit what-if` answers in the demo: the article's node group grows.
WHAT_IF_NODES = 10


def what_if_line(report: Report) -> str:
    """One `ipaudit what-if` answer on the article's cluster (docs/commands.md "What if")."""
    from ipaudit.analysis.what_if import Question, answer_report
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

        return serve(args.kubeconfig, force=args.force)
    # Here, not at the top: `ipaudit --help` never loads boto3.
    from ipaudit.audit import run_audit
    from ipaudit.digest import weekly_digest
    from ipaudit.pipeline import after_audit
    from ipaudit_sim.history_seed import seed_history
    from ipaudit_sim.world import article_world

    quiet = args.output != "text"  # JSON and CSV are for pipes: nothing else on stdout
    say = (lambda _message: None) if quiet else progress
    with article_world(os.environ, progress=say) as world:
        settings = Settings.from_env(world.env)
        report = run_audit(settings, world.session, progress=say)
        seed_history(report, settings, world.session)
        # A real run, not a dry one: the alert state it records is what the digest counts.
        outcome = after_audit(report, settings, world.session)
        code = emit(outcome.report, args)
        # One file, overwritten by every run: no folder left behind per run.
        digest_path = args.digest or Path(tempfile.gettempdir()) / DIGEST_NAME
        digest = weekly_digest(settings, world.session, html_path=digest_path)
    if not quiet:
        width = terminal_width()
        sys.stdout.write("\n" + wrap(what_if_line(outcome.report), width) + "\n")
        sys.stdout.write("\n" + render_alerts(outcome, width))
        written = f"Weekly digest ({digest.subject!r}) written to {digest_path.resolve()}"
        sys.stdout.write(f"\n{wrap(written, width)}\n")
    return code
