"""`ipaudit init-table`: create the history table for local runs and tests.

In AWS the stack creates it; this makes the same keys, index and TTL.
"""

from __future__ import annotations

import argparse
from typing import Any

from ipaudit.cli.options import add_aws_flags, session_from, settings_from
from ipaudit.errors import InputError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "init-table",
        help="create the DynamoDB table for history and alert state (IPAUDIT_TABLE)",
    )
    add_aws_flags(parser)
    parser.add_argument("--table", metavar="NAME", help="table name (sets IPAUDIT_TABLE)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ipaudit.aws.session import make_client
    from ipaudit.store.table import GSI, TTL_ATTRIBUTE, create_table

    settings = settings_from(args)
    if not settings.table:
        raise InputError("IPAUDIT_TABLE: not set; name the table with --table or IPAUDIT_TABLE")
    created = create_table(make_client(session_from(args), "dynamodb"), settings.table)
    state = "created" if created else "already exists:"
    print(f"table {settings.table} {state} keys pk/sk, index {GSI}, TTL on {TTL_ATTRIBUTE}")
    return 0
