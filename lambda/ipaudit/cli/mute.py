"""`ipaudit mute`, `ipaudit mutes`, `ipaudit unmute`: silence a finding for a while, with a
reason, in the table (IPAUDIT_TABLE); list and lift mutes."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ipaudit.alerts.mutes import (
    PATTERN_FIELDS,
    Mute,
    check_finding_id,
    check_pattern,
    check_reason,
    iso,
    mute_id,
    parse_duration,
)
from ipaudit.cli.options import add_aws_flags, session_from, settings_from
from ipaudit.errors import InputError
from ipaudit.render.text import table
from ipaudit.settings import Settings

if TYPE_CHECKING:
    import boto3


def register(sub: Any) -> None:
    mute: argparse.ArgumentParser = sub.add_parser(
        "mute", help="silence a finding (or a pattern of findings) for a while, with a reason"
    )
    mute.add_argument(
        "finding_id", nargs="?", metavar="FINDING_ID", help="the finding's id, from the report"
    )
    mute.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="FIELD=GLOB",
        help=f"mute every finding matching this (repeatable; fields: {', '.join(PATTERN_FIELDS)})",
    )
    mute.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="30m, 12h, 7d or 2w"
    )
    mute.add_argument("--reason", required=True, help="why (on-call reads it)")
    _common(mute, run_mute)

    mutes: argparse.ArgumentParser = sub.add_parser("mutes", help="list the mutes in force")
    mutes.add_argument("--json", action="store_true", help="print them as JSON")
    _common(mutes, run_mutes)

    unmute: argparse.ArgumentParser = sub.add_parser("unmute", help="lift a mute now")
    unmute.add_argument("mute_id", metavar="MUTE_ID", help="as `ipaudit mutes` lists it")
    _common(unmute, run_unmute)


def _common(parser: argparse.ArgumentParser, run: Any) -> None:
    add_aws_flags(parser)
    # Of the settings only the table matters here; the others stay in the environment.
    parser.add_argument("--table", metavar="VALUE", help="sets IPAUDIT_TABLE")
    parser.set_defaults(run=run)


def _table_of(settings: Settings) -> str:
    if not settings.table:
        raise InputError("IPAUDIT_TABLE: not set; mutes are kept in the table (--table)")
    return settings.table


def _pattern(matches: list[str]) -> dict[str, str]:
    pattern: dict[str, str] = {}
    for item in matches:
        field, sep, glob = item.partition("=")
        if not sep:
            raise InputError(f"--match: {item!r} is not FIELD=GLOB (e.g. cluster=legacy-*)")
        field = {"account": "account_id"}.get(field.strip(), field.strip())
        if field in pattern:
            raise InputError(f"--match: {field} given twice")
        pattern[field] = glob
    return check_pattern(pattern, "--match")


def run_mute(args: argparse.Namespace) -> int:
    # Everything the user typed is checked before AWS is asked anything.
    if (args.finding_id is None) == (not args.match):
        raise InputError("mute: give a FINDING_ID or --match FIELD=GLOB, not both or neither")
    finding_id = args.finding_id and check_finding_id(args.finding_id, "FINDING_ID")
    pattern = _pattern(args.match) if args.match else None
    duration = parse_duration(args.duration)
    reason = check_reason(args.reason, "--reason")
    from ipaudit.aws.session import make_client
    from ipaudit.store.mute_items import put_mute

    settings = settings_from(args)
    table_name = _table_of(settings)
    session = session_from(args)
    now = datetime.now(UTC).replace(microsecond=0)
    mute = Mute(
        id=mute_id(finding_id, pattern),
        reason=reason,
        expires_at=now + duration,
        created_by=make_client(session, "sts").get_caller_identity()["Arn"],
        created_at=now,
        source="table",
        finding_id=finding_id,
        pattern=pattern,
    )
    put_mute(make_client(session, "dynamodb"), table_name, mute)
    print(f"muted {mute.describe()} until {iso(mute.expires_at)} (mute id {mute.id})")
    return 0


def _in_force(settings: Settings, session: boto3.Session, now: datetime) -> list[Mute]:
    from ipaudit.aws.session import make_client
    from ipaudit.store.mute_items import load_mutes

    stored = load_mutes(make_client(session, "dynamodb"), _table_of(settings))
    mutes = [m for m in (*settings.mutes, *stored) if m.active(now)]
    return sorted(mutes, key=lambda m: (m.expires_at, m.id))


def run_mutes(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    now = datetime.now(UTC)
    mutes = _in_force(settings, session_from(args), now)
    if args.json:
        json.dump([_as_dict(m) for m in mutes], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not mutes:
        print("No mutes in force.")
        return 0
    print(
        table(
            ("mute id", "matches", "until", "by", "source", "reason"),
            (
                (
                    m.id,
                    "the finding" if m.finding_id else m.describe(),
                    iso(m.expires_at),
                    m.created_by,
                    m.source,
                    m.reason,
                )
                for m in mutes
            ),
            indent="",
        )
    )
    return 0


def _as_dict(mute: Mute) -> dict[str, Any]:
    return {
        "id": mute.id,
        "finding_id": mute.finding_id,
        "pattern": None if mute.pattern is None else dict(mute.pattern),
        "reason": mute.reason,
        "expires_at": iso(mute.expires_at),
        "created_by": mute.created_by,
        "created_at": None if mute.created_at is None else iso(mute.created_at),
        "source": mute.source,
    }


def run_unmute(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if any(m.id == args.mute_id for m in settings.mutes):
        raise InputError(
            f"MUTE_ID: {args.mute_id!r} comes from the mutes file (IPAUDIT_MUTES); "
            "remove it there and deploy"
        )
    from ipaudit.aws.session import make_client
    from ipaudit.store.mute_items import delete_mute

    session = session_from(args)
    if not delete_mute(make_client(session, "dynamodb"), _table_of(settings), args.mute_id):
        raise InputError(f"MUTE_ID: no mute {args.mute_id!r} (`ipaudit mutes` lists them)")
    print(f"unmuted {args.mute_id}: it alerts again as new if still found")
    return 0
