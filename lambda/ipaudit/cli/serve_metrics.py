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
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ipaudit.cli.audit import (
    add_audit_flags,
    add_metrics_nodes_flag,
    audit_once,
    audit_setup,
    nothing_read,
    progress,
)
from ipaudit.cli.options import seconds_flag
from ipaudit.errors import InputError
from ipaudit.render.openmetrics import (
    CONTENT_TYPE,
    DEFAULT_NODE_SERIES,
    NO_CLUSTER,
    REPORT_GAUGES,
    Gauge,
    Sample,
    epoch_seconds,
    exposition,
    report_samples,
)
from ipaudit.report import Report
from ipaudit.stale_scopes import Served, carry_over

MIN_INTERVAL = 60.0  # an audit makes AWS calls in every account: not a tight loop
MAX_INTERVAL = 86400.0
DEFAULT_INTERVAL = 300.0
# Each cycle's own deadline unless --deadline says otherwise: a hung call must not freeze the
# figures while the exporter reports success; what is not audited by then is a coverage error,
# its scope served stale.
DEFAULT_DEADLINE = 600.0
DEFAULT_BIND = "127.0.0.1"  # loopback unless asked: the metrics name accounts and subnets
# The line a supervisor or a test waits for: the first report is being served.
SERVING = "serve-metrics: serving the metrics of run "
LISTENING = "serve-metrics: listening on "
RESTORED = "serve-metrics: serving the stored run "
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# What a scraper that does not ask for OpenMetrics gets: the same text reads as Prometheus'
# 0.0.4 format, where `# UNIT` and `# EOF` are comments.
_CLASSIC_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

UP = Gauge("ipaudit_up", "1 while a report is served, 0 before there is one", ())
LAST_AUDIT_SUCCESS = Gauge(
    "ipaudit_exporter_last_audit_success",
    "1 when the exporter's last audit read something, 0 when it failed or could read no "
    "cluster (the last good values are still served)",
    (),
)
FAILED_AUDITS = Gauge(
    "ipaudit_exporter_failed_audits",
    "The exporter's audits in a row that failed or could read no cluster (0 after one that did)",
    (),
)
REPORT_SOURCE = Gauge(
    "ipaudit_exporter_report_source",
    "1 for where the served report comes from: table (the last stored run, until the "
    "exporter's own first audit ends) or audit",
    ("source",),
)
REPORT_AGE = Gauge(
    "ipaudit_exporter_report_age_seconds",
    "Seconds since the served report's audit ran, at the scrape",
    (),
    unit="seconds",
)
SCOPE_STALE = Gauge(
    "ipaudit_scope_stale_since_timestamp_seconds",
    "For each scope the last audit could not read: when the values still served for it were "
    "audited, Unix seconds (cluster - : the whole account and region)",
    ("account", "region", "cluster"),
    unit="seconds",
)
EXPORTER_GAUGES: tuple[Gauge, ...] = (
    UP,
    LAST_AUDIT_SUCCESS,
    FAILED_AUDITS,
    REPORT_SOURCE,
    REPORT_AGE,
    SCOPE_STALE,
)
FROM_TABLE, FROM_AUDIT = "table", "audit"


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
    add_metrics_nodes_flag(parser)
    parser.set_defaults(run=run, deadline=DEFAULT_DEADLINE)


def port_number(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a TCP port (0 to 65535)")
    return int(raw)


class Exporter:
    """The metrics to serve: the report's (the last stored run until the first audit, then each
    audit's with the last good values of the scopes it could not read), and the exporter's own
    state. Thread-safe: the audit loop publishes while the HTTP server's threads scrape."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        node_series: int | None = DEFAULT_NODE_SERIES,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._node_series = node_series
        self._served: Served | None = None
        self._source = ""
        self._samples: list[Sample] = []
        self._generated = 0.0
        self._last_success: bool | None = None
        self._failed = 0

    def restored(self, report: Report) -> None:
        """The last stored run, served until the first audit ends (never over one)."""
        with self._lock:
            if self._served is None:
                self._serve(Served(report), FROM_TABLE)

    def published(self, report: Report) -> bool:
        """Serve this audit's report; False when it could read nothing (a failed audit)."""
        read = not nothing_read(report)
        with self._lock:
            self._serve(carry_over(self._served, report), FROM_AUDIT)
            self._count(read)
        return read

    def failed(self) -> None:
        with self._lock:
            self._count(False)

    def _count(self, success: bool) -> None:
        self._last_success = success
        self._failed = 0 if success else self._failed + 1

    def _serve(self, served: Served, source: str) -> None:
        # Samples once per audit, not once per scrape.
        stale = [
            (SCOPE_STALE, (account, region, cluster or NO_CLUSTER), epoch_seconds(since))
            for (account, region, cluster), since in served.stale_since.items()
        ]
        self._served, self._source = served, source
        self._samples = [*report_samples(served.report, node_series=self._node_series), *stale]
        self._generated = epoch_seconds(served.report.generated_at)

    def text(self) -> str:
        with self._lock:
            served, source, samples = self._served, self._source, self._samples
            last_success, failed, generated = self._last_success, self._failed, self._generated
        own: list[Sample] = [(UP, (), 0 if served is None else 1)]
        if last_success is not None:
            own.append((LAST_AUDIT_SUCCESS, (), 1 if last_success else 0))
        own.append((FAILED_AUDITS, (), failed))
        if served is not None:
            own.append((REPORT_SOURCE, (source,), 1))
            own.append((REPORT_AGE, (), max(0.0, round(self._clock() - generated, 3))))
        return exposition((*EXPORTER_GAUGES, *REPORT_GAUGES), [*own, *samples])


def audit_loop(
    audit: Callable[[], Report],
    exporter: Exporter,
    wait: Callable[[float], bool],
    interval: float,
    say: Callable[[str], None] = progress,
) -> None:
    """Audit, publish, then `wait(interval)` (True: stop), until told to stop. A failed cycle
    keeps the last report served, and one whose scopes failed keeps those scopes' last good
    values: a long-running exporter outlives bad audits without dropping a finding's series
    (which would resolve its alert); `ipaudit_exporter_failed_audits` counts them."""
    while True:
        try:
            report = audit()
        except Exception as error:  # any failure is this cycle's, not the loop's
            exporter.failed()
            say(f"serve-metrics: the audit failed, next try in {interval:g}s: {_problem(error)}")
        else:
            if not exporter.published(report):
                say("serve-metrics: the audit could read no cluster: the last values stay served")
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
        args.deadline = DEFAULT_DEADLINE
    settings, session = audit_setup(args)
    # What `audit` needs before its first call (credentials, region, the account list) fails
    # here as it does there, exit 1; once serving, a failing cycle is retried instead.
    audit_targets(settings, session)
    exporter = Exporter(node_series=args.metrics_nodes)
    if settings.table:
        _restore(exporter, settings.table, session)
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


def _restore(exporter: Exporter, table: str, session: Any) -> None:
    """Serve the last stored run from the first scrape on (before listening: no scrape sees an
    empty exporter), so a restart does not drop every finding's series for an audit's length."""
    from ipaudit.aws.session import make_client
    from ipaudit.store.latest import latest_run

    try:
        stored = latest_run(make_client(session, "dynamodb"), table)
    except Exception as error:  # the audit reads the table again; it is not fatal here
        progress(f"serve-metrics: the last stored run could not be read: {_problem(error)}")
        return
    if stored is not None:
        exporter.restored(stored)
        progress(f"{RESTORED}{stored.run_id} ({stored.generated_at}) until the first audit ends")


def _host(bind: str) -> str:
    return f"[{bind}]" if ":" in bind else bind
