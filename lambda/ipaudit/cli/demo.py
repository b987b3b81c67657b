"""`ipaudit demo`: the real audit, run on the embedded simulated organization."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ipaudit.audit import run_audit
from ipaudit.cli.audit import add_output_flags, emit, progress
from ipaudit.settings import Settings


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="audit an embedded simulated AWS organization (moto + a local Kubernetes API)"
    )
    add_output_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ipaudit.sim.world import article_world
    except ImportError as error:  # moto is a development dependency only
        print(f"ipaudit: error: the demo needs the development install ({error})", file=sys.stderr)
        return 1
    say = (lambda _message: None) if args.json else progress
    say("starting the simulated organization (moto server, Kubernetes API servers)")
    with article_world(os.environ) as world:
        settings = Settings.from_env(world.env)
        report = run_audit(settings, world.session, progress=say)
        return emit(report, args)
