"""Starting the postmaster and waiting until it is ready, its log, and creating the database."""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import threading
import time

from .binaries import find_bin_dir
from .errors import EmbeddedPostgresError, PortInUse, ShmemInUse
from .procfs import POLL_INTERVAL, process_identity

_LOG_ROTATE_BYTES = 5 * 1024 * 1024


class PostmasterMixin:
    """EmbeddedPostgres's server process: spawn, readiness, database, log file."""

    def _spawn(self, drop: str, deadline: float) -> None:
        bin_dir = find_bin_dir()
        if drop == "setuid":
            self._check_traversable(bin_dir / "postgres")
            self._check_traversable(self.pgdata)
        gucs = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "unix_socket_permissions": "0700",
            "max_connections": str(self.max_connections),
            # Tuned for tests and development: durability off, small footprint.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "huge_pages": "off",
            "jit": "off",
            "logging_collector": "off",
        }
        gucs.update(self.settings)
        argv = [str(bin_dir / "postgres"), "-D", str(self.pgdata)]
        for name, value in gucs.items():
            argv += ["-c", f"{name}={value}"]
        self._open_log()
        offset = os.lseek(self._log_file, 0, os.SEEK_END) if self._log_file is not None else 0
        # The parent-death signal is tied to the spawning thread, so only set it from the
        # main thread; other starts rely on stop()/atexit.
        in_main = threading.current_thread() is threading.main_thread()
        proc = subprocess.Popen(
            self._command(drop, argv, pdeathsig=in_main),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=self._log_file,
            start_new_session=True,  # a terminal's Ctrl+C reaches us, not the server
            close_fds=True,
        )
        self._proc = proc
        self._owner_pid = os.getpid()
        atexit.register(self._atexit_stop)
        try:
            self._wait_ready(proc, deadline, offset)
        except BaseException:
            self.stop()
            raise
        (self.data_dir / "owner").write_text(f"{os.getpid()} {process_identity(os.getpid())[1]}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float, log_offset: int) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        while True:
            code = proc.poll()
            if code is not None:
                log = self._log_since(log_offset)
                retry: Exception | None = None
                if "could not bind" in log or "Address already in use" in log:
                    retry = PortInUse()
                elif "pre-existing shared memory block" in log:
                    retry = ShmemInUse(log)
                if retry is not None:
                    self._proc = None
                    atexit.unregister(self._atexit_stop)
                    raise retry
                raise EmbeddedPostgresError(f"postgres exited with status {code}:\n{log}")
            try:
                lines = pidfile.read_text().splitlines()
            except OSError:
                lines = []
            ready = len(lines) >= 8 and lines[7].strip() == "ready"
            if ready and lines[0].strip() == str(proc.pid):
                return
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"postgres did not become ready in time:\n{self._log_since(log_offset)}"
                )
            time.sleep(POLL_INTERVAL)

    def _ensure_database(self, deadline: float) -> None:
        import psycopg2
        from psycopg2 import sql

        while True:
            try:
                conn = psycopg2.connect(
                    host=self.host,
                    port=self.port,
                    user=self.user,
                    password=self.password,
                    dbname="postgres",
                    connect_timeout=5,
                    application_name="ocore-embedded",
                )
                break
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"cannot connect to the embedded server: {exc}"
                    ) from exc
                time.sleep(POLL_INTERVAL)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        finally:
            conn.close()

    def _atexit_stop(self) -> None:
        if os.getpid() == self._owner_pid:  # never in a forked child (the lock may be held)
            self.stop()

    def _open_log(self) -> None:
        self._close_log()
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.log_path, self.log_path.with_suffix(".log.1"))
        self._log_file = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_file)
            self._log_file = None

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read()[-8000:].decode("utf-8", "replace")
        except OSError:
            return ""
