"""The `ipaudit` command: one module per sub-command, each with `register` and `run`.

`ipaudit --help` and `--version` build the whole parser, so a command module imports at its top
only what its flags need; boto3, botocore and kubernetes are imported inside `run`, and a run
that needs none of them (`simulate` of a scenario with its own limits) never pays for them.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from ipaudit import redact
from ipaudit.cli import (
    audit,
    demo,
    digest,
    get_token,
    init_table,
    max_pods,
    mute,
    serve_metrics,
    simulate,
    what_if,
)
from ipaudit.errors import InputError
from ipaudit.words import plural

_COMMANDS = (
    audit,
    demo,
    serve_metrics,
    simulate,
    what_if,
    max_pods,
    digest,
    init_table,
    mute,
    get_token,
)


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


def unrecognized(tokens: Sequence[str]) -> str:
    """argparse's complaint without the values: a mistyped flag's value may be a secret (a
    webhook URL given to `--slack-webhook-urls`), and argparse would echo it."""
    flags = [token.split("=", 1)[0] for token in tokens if token.startswith("-")]
    named = " ".join(flags) if flags else plural(len(tokens), "value")
    return f"unrecognized arguments: {named} (values not repeated: one may be a secret)"


def version() -> str:
    """The installed distribution's version (pyproject.toml's, whatever the install)."""
    try:
        return importlib.metadata.version("ipaudit")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "unknown (not installed)"


NO_CREDENTIALS = (
    "AWS credentials: none found (use --profile or AWS_PROFILE with a profile of "
    "~/.aws/config, `aws sso login`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
NO_REGION = "AWS region: none set (use --region or AWS_DEFAULT_REGION, or a profile's region)"


def aws_problem(error: BaseException) -> str | None:
    """The one line for an AWS error a command could not go on without; None for any other."""
    if "botocore" not in sys.modules:
        return None  # a command that never loaded botocore cannot have raised its errors
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
    from botocore.parsers import ResponseParserError

    from ipaudit.aws.error_line import one_line

    if isinstance(error, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(error, NoRegionError):
        return NO_REGION
    if isinstance(error, BotoCoreError | ClientError | ResponseParserError):
        return f"AWS: {one_line(error)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(unrecognized(unknown))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    redact.install()  # whatever level someone turns a logger to, no credential is logged
    try:
        code: int = args.run(args)
    except InputError as error:
        print(f"ipaudit: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ipaudit ... | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except Exception as error:
        # Only what the command needs up front fails here (credentials, region, the caller's
        # own identity): audit targets fail softly into coverage gaps.
        problem = aws_problem(error)
        if problem is None:
            raise
        print(f"ipaudit: error: {problem}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
