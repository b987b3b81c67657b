"""The `ipaudit` command: one module per sub-command, each with `register` and `run`."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ipaudit.aws.error_line import one_line
from ipaudit.cli import (
    audit,
    demo,
    digest,
    get_token,
    init_table,
    max_pods,
    mute,
    simulate,
    what_if,
)
from ipaudit.errors import InputError

_COMMANDS = (audit, demo, simulate, what_if, max_pods, digest, init_table, mute, get_token)


EXIT_USAGE = 2  # argparse's code for a command line it cannot parse


class _Parser(argparse.ArgumentParser):
    """A bad command line: one line naming the problem (no usage dump), argparse's exit 2."""

    def error(self, message: str) -> NoReturn:
        # argparse quotes what it could not parse; a mistyped flag may carry a webhook URL.
        message = re.sub(r"\b[a-z][a-z0-9+.-]*://\S+", "<URL not shown>", message)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ipaudit",
        description="Find EKS clusters running out of pod IP addresses, and the aws-node "
        "settings that give them back.",
    )
    parser.add_argument("--version", action="version", version=f"ipaudit {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(sub)
    return parser


def version() -> str:
    """The installed distribution's version (pyproject.toml's, whatever the install)."""
    try:
        return importlib.metadata.version("ipaudit")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "unknown (not installed)"


def aws_problem(error: BotoCoreError | ClientError) -> str:
    if isinstance(error, NoCredentialsError):
        return "AWS credentials: none found (use --profile, AWS_PROFILE or SSO)"
    if isinstance(error, NoRegionError):
        return "AWS region: none set (use --region or AWS_REGION)"
    return f"AWS: {one_line(error)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
    except InputError as error:
        print(f"ipaudit: error: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        # Only what the command needs up front fails here (credentials, region, the caller's
        # own identity): audit targets fail softly into coverage gaps.
        print(f"ipaudit: error: {aws_problem(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ipaudit ... | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
