"""Real processes for tests: the installed console scripts, servers on loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def script(name: str) -> str:
    """A console script installed next to this interpreter (ocore, gunicorn, waitress-serve)."""
    path = BIN / name
    assert path.exists(), f"{name} is not installed in {BIN}"
    return str(path)


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment (like ``env -i PATH=…``) plus ``extra``."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str], env: Mapping[str, str], *, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root and capture its output."""
    return subprocess.run(
        list(argv),
        env=dict(env),
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(
    url: str,
    timeout: float = 20,
    proc: subprocess.Popen | None = None,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Wait until ``url`` answers at all (any status), or fail with the process output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            time.sleep(0.2)
            raise AssertionError(f"server exited with {proc.returncode}:\n{output()}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


class Server:
    """A server process (waitress, gunicorn, ``ocore serve``) on a loopback port."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], port: int) -> None:
        self.argv, self.env, self.port = list(argv), dict(env), port
        self.proc: subprocess.Popen[str] | None = None
        self._chunks: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        """Everything the process printed so far (drained continuously: a full pipe would
        otherwise block the server on its next log line)."""
        return "".join(self._chunks)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Server:
        """Start and wait until it answers HTTP."""
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        wait_http(self.url + "/api/health", timeout, self.proc, lambda: self.output)
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self._chunks.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal it, wait for it to exit, keep its output; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.proc.returncode

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
