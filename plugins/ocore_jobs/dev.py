"""``ocore dev``: one worker next to the development server, stopped with it.

The database plugin's hook runs first (``jobs`` requires ``database``): DATABASE_URL is set and
the migrations are applied when this hook starts ``python -m ocore_flask worker`` with the same
environment. The worker runs in its own session, so a Ctrl-C reaches only ``ocore dev``, which
then stops the worker once, gracefully (SIGTERM), within JOBS_SHUTDOWN_TIMEOUT and a margin.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ocore_flask.config import DurationError, parse_duration
from ocore_flask.manager import PluginManager

log = logging.getLogger("ocore_jobs")

DEFAULT_SHUTDOWN = 30.0
STOP_MARGIN = 5.0


def worker_argv() -> list[str]:
    """The worker command: this interpreter's ``ocore`` (no console script needed)."""
    return [sys.executable, "-m", "ocore_flask", "worker"]


def _shutdown_timeout(environ: Mapping[str, str]) -> float:
    try:
        return parse_duration(environ.get("JOBS_SHUTDOWN_TIMEOUT") or "30s").seconds
    except DurationError:
        return DEFAULT_SHUTDOWN  # the configuration report names it


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM once, wait up to ``timeout``, then SIGKILL; the exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("jobs: the development worker did not stop in %.0fs; killing it", timeout)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)
    return proc.returncode


@contextmanager
def dev_services(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: a worker subprocess while ``ocore dev`` runs; it shares no
    variables."""
    if not environ.get("DATABASE_URL"):
        log.info("jobs: no DATABASE_URL yet, so no development worker")
        yield {}
        return
    proc = subprocess.Popen(
        worker_argv(), env=dict(environ), stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.info("jobs: started a development worker (pid %d)", proc.pid)
    try:
        yield {}
    finally:
        status = stop_process(proc, _shutdown_timeout(environ) + STOP_MARGIN)
        log.info("jobs: the development worker stopped (exit status %s)", status)
