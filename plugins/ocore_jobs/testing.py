"""Test kit of the jobs plugin (pytest plugin ``ocore_jobs``, entry point ``pytest11``).

- ``WorkerProcess``: a real worker process. ``cli=True`` runs ``python -m ocore_flask worker``
  (the installed plugins); otherwise a small script builds the app with exactly the plugins
  given as ``"module:attribute"`` paths (a test plugin offering its own tasks included) and
  runs the same worker code. ``start()`` returns once the worker takes jobs.
- ``jobs_worker``: a fixture starting ``WorkerProcess`` es that are stopped after the test.
- ``wait_for_job(engine_or_url, job_id, *statuses)``: poll a job until it reaches a status.
- ``TEST_SETTINGS``: short poll, heartbeat, stall and shutdown times for fast tests.

pytest imports this module in every run: SQLAlchemy loads inside the helpers that need it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Self

import pytest

from ocore_flask.cli.dev_process import stop_process

if TYPE_CHECKING:
    from sqlalchemy import Engine

READY = "ocore worker: ready"  # ocore_jobs.worker.READY, without importing procrastinate

#: worker timings for tests: jobs are seen within 0.5 s even without NOTIFY, a killed worker is
#: declared dead after 1.5 s, a stop waits at most 5 s
TEST_SETTINGS = {
    "JOBS_POLL_INTERVAL": "500ms",
    "JOBS_HEARTBEAT_INTERVAL": "300ms",
    "JOBS_STALL_THRESHOLD": "1500ms",
    "JOBS_SHUTDOWN_TIMEOUT": "5s",
}

_SCRIPT = """
import importlib, json, os, sys
spec = json.loads(sys.argv[1])
plugins = [getattr(importlib.import_module(m), a) for m, _, a in
           (ref.partition(":") for ref in spec["plugins"])]
from ocore_flask.app import close_app, create_app
from ocore_flask.cli.kit import exit_startup_error
from ocore_flask.errors import StartupError
try:
    app = create_app(os.environ, plugins)
except StartupError as exc:
    exit_startup_error(exc)
from ocore_jobs.worker import ready_message, run_worker
try:
    report = run_worker(app, queues=spec["queues"], concurrency=spec["concurrency"],
                        on_ready=lambda r: print(ready_message(r), file=sys.stderr, flush=True))
    print(json.dumps(report.to_dict()), flush=True)
finally:
    close_app(app)
"""


class WorkerProcess:
    """One worker process writing to a temporary file; ``output`` stays readable after stop."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        plugins: Sequence[str] | None = None,
        queues: Sequence[str] = (),
        concurrency: int | None = None,
        cli: bool = False,
        cwd: str | None = None,
    ) -> None:
        """Describe the worker; nothing starts before ``start()``. ``plugins`` is required
        unless ``cli`` (which discovers the installed plugins)."""
        if cli:
            argv = [sys.executable, "-m", "ocore_flask", "worker", "--json"]
            argv += [arg for queue in queues for arg in ("--queue", queue)]
            argv += ["--concurrency", str(concurrency)] if concurrency else []
        else:
            if plugins is None:
                raise ValueError("give the plugins (module:attribute) or cli=True")
            spec = {"plugins": list(plugins), "queues": list(queues), "concurrency": concurrency}
            argv = [sys.executable, "-c", _SCRIPT, json.dumps(spec)]
        self.argv = argv
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker_id: int | None = None
        self._log: IO[bytes] | None = None
        self._final: str | None = None

    @property
    def pid(self) -> int:
        """The process id (started workers only)."""
        assert self.proc is not None
        return self.proc.pid

    @property
    def output(self) -> str:
        """Everything the worker printed so far (stdout and stderr)."""
        if self._log is None:
            return self._final or ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def start(self, timeout: float = 30) -> Self:
        """Start the worker and wait until it takes jobs; RuntimeError with its output if it
        exits or is not ready in time."""
        self._log = tempfile.TemporaryFile(prefix="ocore-worker-")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            output = self.output
            if READY in output:
                line = output[output.index(READY) :].split("(worker ", 1)[1]
                self.worker_id = int(line.split(",", 1)[0])
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                state = "exited" if self.proc.returncode not in (None, -9) else "was not ready"
                raise RuntimeError(f"the worker {state}:\n{self.output[-4000:]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Send ``sig`` once, wait up to ``timeout``, then SIGKILL; the exit status."""
        proc = self.proc
        if proc is None:
            return None
        stop_process(proc, timeout, sig=sig, group=True)
        if self._log is not None:
            self._final = self.output
            self._log.close()
            self._log = None
        return proc.returncode

    def wait(self, timeout: float = 30) -> int:
        """Wait for the worker to exit by itself (after a signal sent with ``proc``); its exit
        status, or TimeoutError with its output."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            message = f"the worker still runs after {timeout}s:\n{self.output[-4000:]}"
            raise TimeoutError(message) from None

    def kill(self) -> int | None:
        """SIGKILL: the worker dies mid-job, as after an OOM kill or a power cut."""
        return self.stop(signal.SIGKILL, timeout=10)

    def report(self) -> dict[str, Any] | None:
        """The JSON summary a stopped worker printed last (None when it printed none)."""
        output = self.output
        decoder = json.JSONDecoder()
        starts = [
            i for i, ch in enumerate(output) if ch == "{" and (i == 0 or output[i - 1] == "\n")
        ]
        for start in reversed(starts):
            with contextlib.suppress(ValueError):
                return decoder.raw_decode(output, start)[0]
        return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = self.proc is not None and self.proc.poll() is None
        return f"<WorkerProcess {'running' if running else 'stopped'} id={self.worker_id}>"


def job_status(engine: Engine, job_id: int) -> str | None:
    """A job's procrastinate status, or None when there is no such job."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        ).scalar()


@contextlib.contextmanager
def _engine_of(source: Engine | str) -> Iterator[Engine]:
    if not isinstance(source, str):
        yield source
        return
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(
        source.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool
    )
    try:
        yield engine
    finally:
        engine.dispose()


def wait_for_job(source: Engine | str, job_id: int, *statuses: str, timeout: float = 15) -> str:
    """Poll job ``job_id`` until its status is one of ``statuses`` (default: any finished
    one); return it, or fail the test naming the status it was stuck in."""
    wanted = statuses or ("succeeded", "failed", "cancelled", "aborted")
    deadline = time.monotonic() + timeout
    with _engine_of(source) as engine:
        while True:
            status = job_status(engine, job_id)
            if status in wanted:
                return status
            if time.monotonic() > deadline:
                pytest.fail(
                    f"job {job_id} is {status!r} after {timeout}s, not {' or '.join(wanted)}"
                )
            time.sleep(0.05)


@pytest.fixture
def jobs_worker() -> Iterator[Callable[..., WorkerProcess]]:
    """``jobs_worker(env, plugins=[...], queues=(), concurrency=None, cli=False)``: a started
    ``WorkerProcess``; every one still running is stopped (SIGTERM) after the test."""
    started: list[WorkerProcess] = []

    def start(env: Mapping[str, str], **options: Any) -> WorkerProcess:
        worker = WorkerProcess(env, **options)
        started.append(worker)
        return worker.start()

    yield start
    for worker in reversed(started):
        worker.stop(timeout=15)
