"""`ipaudit digest`: the weekly summary from the stored history, as text, HTML, or e-mail."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ipaudit.cli.options import add_aws_flags, session_from, settings_from


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "digest", help="the weekly summary from the history in IPAUDIT_TABLE"
    )
    parser.add_argument("--html", metavar="FILE", type=Path, help="write the HTML e-mail to FILE")
    parser.add_argument(
        "--send",
        action="store_true",
        help="send it with SES from IPAUDIT_EMAIL_FROM to IPAUDIT_EMAIL_TO",
    )
    add_aws_flags(parser)
    group = parser.add_argument_group("settings (override the IPAUDIT_* environment variables)")
    group.add_argument("--table", metavar="NAME", help="sets IPAUDIT_TABLE")
    group.add_argument("--email-from", metavar="ADDRESS", help="sets IPAUDIT_EMAIL_FROM")
    group.add_argument("--email-to", metavar="ADDRESSES", help="sets IPAUDIT_EMAIL_TO")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ipaudit.digest import weekly_digest

    settings = settings_from(args)
    digest = weekly_digest(settings, session_from(args), send=args.send, html_path=args.html)
    print(digest.text, end="")
    if args.html is not None:
        print(f"\nwrote {args.html}")
    if digest.message_id is not None:
        print(f"sent to {', '.join(settings.email_to)} (SES message {digest.message_id})")
    return 0
