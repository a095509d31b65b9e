"""Processes by pid: pid files, /proc facts (alive, identity, argv), and signalled shutdown."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from pathlib import Path

from .errors import EmbeddedPostgresError

POLL_INTERVAL = 0.02


def read_pid(path: Path) -> int | None:
    """The pid on the first line of a pid file, or None when it cannot be read."""
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def pid_alive(pid: int) -> bool:
    """True if pid names a live (not zombie) process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = proc_stat(pid)
    return not (fields and fields[0] in ("Z", "X"))


def process_identity(pid: int) -> tuple[int, str]:
    """(pid, start time) so that a recycled pid is not taken for the original process."""
    fields = proc_stat(pid)
    return pid, fields[19] if fields and len(fields) > 19 else ""


def is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether pid is a postgres started on ``pgdata`` (True when /proc cannot tell)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell (no /proc): assume it is, to be safe
    return bool(argv) and argv[0].endswith(b"postgres") and os.fsencode(pgdata) in argv


def shutdown(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL; always reaped."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    proc.wait()


def shutdown_pid(pid: int, timeout: float) -> None:
    """Like ``shutdown`` for a process that is not our child (polling instead of waiting)."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        except OSError as exc:
            if exc.errno == errno.EPERM:
                raise EmbeddedPostgresError(f"cannot signal postgres pid {pid}: {exc}") from exc
            raise
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not pid_alive(pid):
                return
            time.sleep(POLL_INTERVAL)
