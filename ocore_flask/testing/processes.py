"""Real processes for tests and benchmarks: console scripts, free loopback ports, servers.

Everything listens on 127.0.0.1 only, on ephemeral ports; every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

from ocore_flask.cli.dev_process import stop_process
from ocore_flask.testing.environ import HEALTH_TOKEN

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` (127.0.0.1) that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; return whether it held."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(interval)
    return True


def script(name: str) -> str:
    """A console script installed next to this interpreter (ocore, flask, gunicorn...)."""
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is not installed in {BIN}")
    return str(path)


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment (like ``env -i PATH=… HOME=…``) plus ``extra``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = 60,
    stdin: str | None = None,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (bounded by ``timeout``) and capture its output."""
    return subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def http_status(host: str, port: int, path: str, timeout: float = 2.0) -> int | None:
    """The status of ``GET path`` on ``host:port``, or None when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def fetch_rich_health(base_url: str, timeout: float = 10.0) -> tuple[int, dict]:
    """``GET /api/health`` with the test health token on a running server: (status, payload)."""
    request = urllib.request.Request(
        base_url + "/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class ServerError(RuntimeError):
    """A server process exited or did not answer in time; the message carries its output."""


class ServerProcess:
    """A server process (waitress, gunicorn, ``ocore serve``, ``ocore dev``) on a loopback port.

    The process runs in its own session (so its workers form one process group) and writes to
    a temporary file, never a pipe, so a chatty server cannot block on its output; ``output``
    stays readable after ``stop()``. ``start()`` waits until ``ready_path`` answers HTTP
    (any status, or exactly ``ready_status``). One stop policy: ``stop()`` sends ``sig``
    (SIGTERM unless told otherwise, e.g. SIGINT for Ctrl-C) to the server process once, waits
    up to ``timeout`` seconds, then SIGKILLs its whole process group.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        port: int,
        *,
        name: str | None = None,
        host: str = HOST,
        ready_path: str = "/api/health",
        ready_status: int | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        """Describe the server; nothing starts before ``start()``."""
        self.argv = list(argv)
        self.env = dict(env)
        self.port = port
        self.name = name or Path(self.argv[0]).name
        self.host = host
        self.ready_path = ready_path
        self.ready_status = ready_status
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._final_output: str | None = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr)."""
        if self._log is None:
            return self._final_output or ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def start(self, timeout: float = 30) -> Self:
        """Start the process and wait until ``ready_path`` answers; ServerError otherwise."""
        # Closed by close(); a file, not a pipe, so the server never blocks on its output.
        self._log = tempfile.TemporaryFile(prefix="ocore-server-")  # noqa: SIM115
        self._final_output = None
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            ready = wait_for(self._ready, timeout=timeout, interval=0.05)
            if not ready:
                raise ServerError(
                    f"{self.name} was not ready within {timeout}s:\n{self.output[-4000:]}"
                )
        except BaseException:
            self.close()
            raise
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise ServerError(
                f"{self.name} exited with {self.proc.returncode}:\n{self.output[-4000:]}"
            )
        status = http_status(self.host, self.port, self.ready_path)
        if self.ready_status is None:
            return status is not None
        return status == self.ready_status

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Send ``sig`` to the server once, wait up to ``timeout``, then SIGKILL its process
        group; the exit status (None if it never started)."""
        proc = self.proc
        if proc is None:
            return None
        stop_process(proc, timeout, sig=sig, group=True)
        if self._log is not None:  # keep the output, release the file
            self._final_output = self.output
            self._log.close()
            self._log = None
        return proc.returncode

    def close(self) -> None:
        """Stop the server if it runs; ``output`` stays readable."""
        self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.proc is not None and self.proc.poll() is None else "stopped"
        return f"ServerProcess({self.name!r}, {self.url}, {state})"
