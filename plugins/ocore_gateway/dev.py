"""``ocore dev``: the SSH gateway next to the development server when SSH_GATEWAY_ENABLED.

The database plugin's hook runs first (``gateway`` requires ``database``), so DATABASE_URL is
set and the migrations are applied when this hook starts ``python -m ocore_flask gateway`` with
the same environment. The gateway runs in its own session, so a Ctrl-C reaches only
``ocore dev``, which then stops it once, gracefully (SIGTERM).
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

from ocore_flask.config import DurationError, kinds, parse_duration
from ocore_flask.manager import PluginManager

log = logging.getLogger("ocore_gateway")

STOP_MARGIN = 5.0


def gateway_argv() -> list[str]:
    """The gateway command: this interpreter's ``ocore`` (no console script needed)."""
    return [sys.executable, "-m", "ocore_flask", "gateway"]


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether SSH_GATEWAY_ENABLED is a true value (an invalid one is reported by the app)."""
    try:
        return bool(kinds.boolean().parse(environ.get("SSH_GATEWAY_ENABLED") or "false"))
    except ValueError:
        return False


def _stop_timeout(environ: Mapping[str, str]) -> float:
    try:
        return parse_duration(environ.get("SSH_GATEWAY_SHUTDOWN_TIMEOUT") or "10s").seconds
    except DurationError:
        return 10.0


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM once, wait up to ``timeout``, then SIGKILL; the exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "gateway: the development gateway did not stop in %.0fs; killing it", timeout
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(10)
    return proc.returncode


@contextmanager
def dev_services(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: ``ocore gateway`` as a subprocess while ``ocore dev`` runs,
    when SSH_GATEWAY_ENABLED; it shares no variables."""
    if not enabled(environ):
        yield {}
        return
    if not environ.get("DATABASE_URL"):
        log.info("gateway: no DATABASE_URL yet, so no development SSH gateway")
        yield {}
        return
    proc = subprocess.Popen(
        gateway_argv(), env=dict(environ), stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.info("gateway: started the development SSH gateway (pid %d)", proc.pid)
    try:
        yield {}
    finally:
        status = stop_process(proc, _stop_timeout(environ) + STOP_MARGIN)
        log.info("gateway: the development SSH gateway stopped (exit status %s)", status)
