"""`ipaudit serve-metrics`: a Prometheus scrape endpoint over a long-running audit loop.

It audits as `ipaudit audit` does (same settings and flags; stores with IPAUDIT_TABLE and
notifies unless --no-notify), serves the last report as OpenMetrics on GET /metrics, and audits
again every --interval seconds until SIGTERM or Ctrl-C, which stop it with exit 0.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ipaudit.cli.audit import add_audit_flags, audit_once, audit_setup, progress
from ipaudit.cli.options import seconds_flag
from ipaudit.errors import InputError
from ipaudit.report import Report
from ipaudit.report_openmetrics import (
    CONTENT_TYPE,
    REPORT_GAUGES,
    Gauge,
    Sample,
    exposition,
    report_samples,
)

MIN_INTERVAL = 60.0  # an audit makes AWS calls in every account: not a tight loop
MAX_INTERVAL = 86400.0
DEFAULT_INTERVAL = 300.0
# Without --deadline each cycle still ends: a hung endpoint must not freeze the served report
# while the exporter reports success. A Lambda's longest life, the same bound as the audit's.
DEFAULT_CYCLE_DEADLINE = 900.0
DEFAULT_BIND = "127.0.0.1"  # loopback unless asked: the metrics name accounts and subnets
# The line a supervisor or a test waits for: the first report is being served.
SERVING = "serve-metrics: serving the metrics of run "
LISTENING = "serve-metrics: listening on "
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# What a scraper that does not ask for OpenMetrics gets: the same text reads as Prometheus'
# 0.0.4 format, where `# UNIT` and `# EOF` are comments.
_CLASSIC_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

UP = Gauge("ipaudit_up", "1 while a report is served, 0 before the first audit finishes", ())
LAST_AUDIT_SUCCESS = Gauge(
    "ipaudit_exporter_last_audit_success",
    "1 when the exporter's last audit finished, 0 when it failed (the last report is still served)",
    (),
)
EXPORTER_GAUGES: tuple[Gauge, ...] = (UP, LAST_AUDIT_SUCCESS)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve-metrics",
        help="audit every --interval seconds and serve the last report to Prometheus",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        required=True,
        help="TCP port for GET /metrics (0: any free port, printed on stderr)",
    )
    parser.add_argument(
        "--interval",
        type=seconds_flag(MIN_INTERVAL, MAX_INTERVAL, low_allowed=True),
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"audit again this long after the last audit finished (default {DEFAULT_INTERVAL:g}"
        f", {MIN_INTERVAL:g} to {MAX_INTERVAL:g})",
    )
    parser.add_argument(
        "--bind",
        default=DEFAULT_BIND,
        metavar="ADDRESS",
        help=f"address to listen on (default {DEFAULT_BIND}: this machine only)",
    )
    add_audit_flags(parser)
    parser.set_defaults(run=run)


def port_number(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a TCP port (0 to 65535)")
    return int(raw)


class Exporter:
    """The metrics to serve: the last report's, and the exporter's own state. Thread-safe: the
    audit loop publishes while the HTTP server's threads scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._report: list[Sample] | None = None
        self._last_success: bool | None = None

    def published(self, report: Report) -> None:
        samples = report_samples(report)  # once per audit, not once per scrape
        with self._lock:
            self._report, self._last_success = samples, True

    def failed(self) -> None:
        with self._lock:
            self._last_success = False

    def text(self) -> str:
        with self._lock:
            report, last_success = self._report, self._last_success
        own: list[Sample] = [(UP, (), 0 if report is None else 1)]
        if last_success is not None:
            own.append((LAST_AUDIT_SUCCESS, (), 1 if last_success else 0))
        return exposition((*EXPORTER_GAUGES, *REPORT_GAUGES), [*own, *(report or [])])


def audit_loop(
    audit: Callable[[], Report],
    exporter: Exporter,
    wait: Callable[[float], bool],
    interval: float,
    say: Callable[[str], None] = progress,
) -> None:
    """Audit, publish, then `wait(interval)` (True: stop), until told to stop. A failed cycle
    keeps the last report served: a long-running exporter outlives one bad audit, and
    `ipaudit_exporter_last_audit_success` and the report's timestamp show it."""
    while True:
        try:
            report = audit()
        except Exception as error:  # any failure is this cycle's, not the loop's
            exporter.failed()
            say(f"serve-metrics: the audit failed, next try in {interval:g}s: {_problem(error)}")
        else:
            exporter.published(report)
            say(SERVING + report.run_id)
        if wait(interval):
            return


def _problem(error: Exception) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from ipaudit.aws.error_line import one_line

    if isinstance(error, InputError):
        return str(error)
    if isinstance(error, BotoCoreError | ClientError):
        return f"AWS: {one_line(error)}"
    # An unexpected exception's text may carry anything (a URL with a secret): its type only.
    return type(error).__name__


class MetricsServer(ThreadingHTTPServer):
    """GET /metrics answers the exporter's text; anything else is 404."""

    daemon_threads = True  # a scrape in flight does not hold up the exit

    def __init__(self, address: tuple[str, int], exporter: Exporter) -> None:
        self.exporter = exporter
        if ":" in address[0]:  # an IPv6 address to bind (the class defaults to IPv4)
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "only /metrics is served")
            return
        body = self.server.exporter.text().encode("utf-8")
        accept = self.headers.get("Accept", "")
        self.send_response(200)
        openmetrics = "application/openmetrics-text" in accept or not accept
        self.send_header("Content-Type", CONTENT_TYPE if openmetrics else _CLASSIC_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per scrape would drown the audit's own progress lines


def run(args: argparse.Namespace) -> int:
    from ipaudit.audit.run import audit_targets  # here: `ipaudit --help` never loads boto3

    if args.deadline is None:
        args.deadline = DEFAULT_CYCLE_DEADLINE
    settings, session = audit_setup(args)
    # What `audit` needs before its first call (credentials, region, the account list) fails
    # here as it does there, exit 1; once serving, a failing cycle is retried instead.
    audit_targets(settings, session)
    exporter = Exporter()
    stop = threading.Event()
    # Blocked before any thread starts, so every thread inherits the mask and the signals wait
    # for sigwait below: a stop is one orderly path, wherever the audit is.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        try:
            server = MetricsServer((args.bind, args.port), exporter)
        except OSError as error:
            raise InputError(
                f"--bind/--port: cannot listen on {args.bind}:{args.port}: "
                f"{error.strerror or error}"
            ) from None
        with server:
            threading.Thread(target=server.serve_forever, daemon=True).start()
            progress(f"{LISTENING}http://{_host(args.bind)}:{server.port}/metrics")
            # A daemon: a stop during an audit does not wait for it (a run is delivered at
            # least once, so an interrupted one is finished by the next).
            threading.Thread(
                target=audit_loop,
                args=(lambda: audit_once(settings, session, args).report, exporter),
                kwargs={"wait": stop.wait, "interval": args.interval},
                daemon=True,
            ).start()
            received = signal.sigwait(_STOP_SIGNALS)
            progress(f"serve-metrics: {signal.Signals(received).name}, stopping")
            stop.set()
            server.shutdown()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 0


def _host(bind: str) -> str:
    return f"[{bind}]" if ":" in bind else bind
