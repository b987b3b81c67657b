"""`ipaudit what-if`: what a change would do, from a stored report or a live audit.

The answers come from `analysis/what_if.py` (the CNI model); this module reads the report and
the question, and prints. Nothing is stored or posted: a live audit here is a question only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipaudit.cli.audit import progress, terminal_width
from ipaudit.cli.options import add_aws_flags, add_setting_flags, session_from, settings_from
from ipaudit.cni.cni_settings import MODELLED_VARIABLES
from ipaudit.errors import InputError
from ipaudit.render.text import DEFAULT_WIDTH, table, wrap
from ipaudit.report import Report

if TYPE_CHECKING:
    from ipaudit.analysis.what_if import Answer, Question

EXIT_DOES_NOT_FIT = 3
RECOMMENDED = "recommended"
# What --settings may change: the variables the model reads, and those that decide where a
# node's pods take addresses.
SETTABLE = frozenset(MODELLED_VARIABLES) | {
    "ENABLE_SUBNET_DISCOVERY",
    "ENI_CONFIG_LABEL_DEF",
    "CLUSTER_NAME",
}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "what-if",
        help="what a change (settings, pods, nodes) would do to the subnets and scale ceilings",
        description="Answer, with the CNI model, what a change would do: addresses held, free "
        "addresses after per subnet and zone, the scale ceilings after, the first zone to run "
        "out. From a stored report (--report) or a live audit (the audit's flags).",
    )
    parser.add_argument(
        "--report", metavar="FILE", help="a JSON report written by `ipaudit audit --json`"
    )
    parser.add_argument("--cluster", metavar="NAME", help="the cluster the question is about")
    parser.add_argument(
        "--add-nodes",
        type=_count,
        metavar="N",
        default=0,
        help="N more nodes (with --type, --group)",
    )
    parser.add_argument("--type", dest="instance_type", metavar="TYPE", help="the new nodes' type")
    parser.add_argument(
        "--group", metavar="NAME", help="the node group or Karpenter NodePool they join"
    )
    parser.add_argument(
        "--add-pods", type=_count, metavar="N", default=0, help="N more pods (with --cluster)"
    )
    parser.add_argument(
        "--settings",
        metavar="JSON|FILE|recommended",
        help="aws-node settings to apply: a JSON object, a file holding one, or `recommended` "
        "(each cluster's recommendation)",
    )
    parser.add_argument(
        "--prefix-delegation", action="store_true", help="turn prefix delegation on"
    )
    parser.add_argument(
        "--replace-nodes",
        action="store_true",
        help="an address-mode change (prefix delegation) reaches the existing nodes too, as if "
        "they were replaced; without it, only new nodes",
    )
    parser.add_argument(
        "--check",
        metavar="SETTINGS.json",
        help="the settings to check (like --settings); exit 3 when the change would not fit",
    )
    parser.add_argument("--json", action="store_true", help="print the answers as JSON")
    add_aws_flags(parser)
    add_setting_flags(parser)
    parser.set_defaults(run=run, parser=parser)


def _count(raw: str) -> int:
    try:
        value = int(raw, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be 1 or more")
    return value


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    if args.check and args.settings:
        parser.error("--check takes the settings itself: give --check or --settings, not both")
    if args.add_nodes and not (args.instance_type and args.group):
        parser.error("--add-nodes needs --type and --group")
    if (args.instance_type or args.group) and not args.add_nodes:
        parser.error("--type and --group go with --add-nodes")
    raw_settings = args.check or args.settings
    if not (raw_settings or args.prefix_delegation or args.add_pods or args.add_nodes):
        parser.error(
            "ask something: --settings, --check, --prefix-delegation, --add-pods or --add-nodes"
        )
    flag = "--check" if args.check else "--settings"
    recommended = raw_settings == RECOMMENDED
    settings = {} if recommended or raw_settings is None else read_settings(raw_settings, flag)
    from ipaudit.analysis.what_if import answer_report  # the model, only once it is asked

    report = _report(args)
    answers: list[Answer] = []
    clusters = [c for c in report.clusters if args.cluster is None or c.name == args.cluster]
    if recommended:
        # Each cluster's own recommendation is its question.
        for cluster in clusters:
            if cluster.recommendation is None or not cluster.recommendation.settings:
                continue
            question = _question(args, dict(cluster.recommendation.settings))
            answers += answer_report(report, question, cluster.name)
    else:
        answers = answer_report(report, _question(args, settings), args.cluster)
    if args.json:
        print(json.dumps(answers_document(report, answers), indent=2))
    else:
        sys.stdout.write(render_answers(answers, terminal_width()))
    if args.check and not all(a.fits for a in answers):
        return EXIT_DOES_NOT_FIT
    return 0


def _question(args: argparse.Namespace, settings: dict[str, str | None]) -> Question:
    from ipaudit.analysis.what_if import Question

    return Question(
        settings=settings,
        prefix_delegation=args.prefix_delegation,
        add_pods=args.add_pods,
        add_nodes=args.add_nodes,
        instance_type=args.instance_type,
        group=args.group,
        replace_nodes=args.replace_nodes,
    )


def read_settings(raw: str, flag: str) -> dict[str, str | None]:
    """aws-node settings from a JSON object, or a file holding one: names to values (strings,
    numbers or booleans as aws-node reads them; null unsets one)."""
    text = raw
    if not raw.lstrip().startswith("{"):
        if "=" in raw and not Path(raw).exists():
            name, _, value = raw.partition("=")
            raise InputError(
                f"{flag}: {raw!r} is neither a JSON object nor a file: give a JSON object, "
                f"e.g. {flag} '{json.dumps({name.strip(): value.strip()})}'"
            )
        try:
            text = Path(raw).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(
                f"{flag}: cannot read {raw}: {getattr(error, 'strerror', None) or error}"
            ) from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{flag}: not a JSON object: {error.msg} at line {error.lineno}") from None
    if not isinstance(values, dict):
        raise InputError(f"{flag}: must be a JSON object of aws-node settings")
    settings: dict[str, str | None] = {}
    for name, value in values.items():
        if name not in SETTABLE:
            raise InputError(
                f"{flag}: {name} is not an aws-node setting the model reads "
                f"({', '.join(sorted(SETTABLE))})"
            )
        if value is None:
            settings[name] = None
        elif isinstance(value, bool):
            settings[name] = "true" if value else "false"
        elif isinstance(value, int | str):
            settings[name] = str(value)
        else:
            raise InputError(f"{flag}: {name}: must be a string, number, boolean or null")
    return settings


def _report(args: argparse.Namespace) -> Report:
    if args.report is None:
        from ipaudit.audit import run_audit  # here: `ipaudit --help` never loads boto3

        return run_audit(settings_from(args), session_from(args), progress=progress)
    try:
        text = Path(args.report).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"--report: cannot read {args.report}: {getattr(error, 'strerror', None) or error}"
        ) from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InputError(f"--report: {args.report} is not JSON ({error})") from None
    from ipaudit.report_schema import schema_problem

    # Checked before the model reads it: a string or negative count must not reach it.
    if (problem := schema_problem(document)) is not None:
        raise InputError(
            f"--report: {args.report} is not a report written by `ipaudit audit --json` ({problem})"
        )
    try:
        from ipaudit.report_codec import report_from_dict

        return report_from_dict(document)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise InputError(
            f"--report: {args.report} is not a report written by `ipaudit audit --json` "
            f"({type(error).__name__}: {error})"
        ) from None


def answers_document(report: Report, answers: list[Answer]) -> dict[str, Any]:
    """The JSON shape (docs/commands.md "What if")."""
    from ipaudit.report_codec import encode

    return {
        "run_id": report.run_id,
        "generated_at": report.generated_at,
        "fits": all(a.fits for a in answers),
        "answers": [encode(a) for a in answers],
    }


def render_answers(answers: list[Answer], width: int = DEFAULT_WIDTH) -> str:
    """The answers for people, wrapped to the terminal as the audit's text report is."""
    if not answers:
        return "what if: no cluster to answer for\n"
    lines = []
    for result in answers:
        lines.append(wrap(result.line, width))
        if not result.modelled:
            continue
        changed = [s for s in result.subnets if s.free_after != s.free_now]
        if changed:
            lines.append(
                table(
                    ("subnet", "az", "free now", "free after", "/28 now", "/28 after"),
                    (
                        (
                            s.subnet_id,
                            s.az,
                            s.free_now,
                            s.free_after,
                            s.free_prefix_blocks_now,
                            s.free_prefix_blocks_after,
                        )
                        for s in changed
                    ),
                )
            )
        lines += [f"  zone {z.az}: {z.free_now} -> {z.free_after} free" for z in result.zones]
        lines += [wrap(f"after: {c.note}", width, "  ") for c in result.ceilings]
    return "\n".join(lines) + "\n"
