"""A companion process for ``ocore dev``: a plugin's ``dev_services`` hook runs one of the
``ocore`` commands (a job worker, the SSH gateway) beside the development server.

The child runs in its own session, so a Ctrl-C reaches only ``ocore dev``, which then stops the
child once, gracefully: SIGTERM, then SIGKILL if it has not exited within its own shutdown
timeout plus a margin.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

log = logging.getLogger("ocore_flask.dev")

STOP_MARGIN = 5.0


def ocore_argv(*args: str) -> list[str]:
    """An ``ocore`` command line with this interpreter (no console script needed)."""
    return [sys.executable, "-m", "ocore_flask", *args]


def stop_process(
    proc: subprocess.Popen[bytes],
    timeout: float,
    what: str = "",
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
) -> int | None:
    """Send ``sig`` once, wait up to ``timeout``, then SIGKILL the process (its whole process
    group with ``group``); the exit status. Shared with the test kits' process helpers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            if what:
                log.warning("%s did not stop in %.0fs; killing it", what, timeout)
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            proc.wait(10)
    return proc.returncode


@contextmanager
def companion(
    argv: list[str], environ: Mapping[str, str], what: str, *, shutdown: float
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with ``environ`` for the duration of the block; ``what`` names it in the
    log lines, ``shutdown`` is how long it may take to drain (its own setting)."""
    proc = subprocess.Popen(
        argv, env=dict(environ), stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.info("started %s (pid %d)", what, proc.pid)
    try:
        yield proc
    finally:
        status = stop_process(proc, shutdown + STOP_MARGIN, what)
        log.info("%s stopped (exit status %s)", what, status)
