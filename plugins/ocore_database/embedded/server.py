"""EmbeddedPostgres: a private PostgreSQL server on 127.0.0.1, started and stopped on demand."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from .cluster import ClusterMixin
from .credentials import CredentialsMixin
from .errors import EmbeddedPostgresError, PortInUse, ShmemInUse
from .postmaster import PostmasterMixin
from .privileges import PrivilegeDrop, PrivilegesMixin
from .procfs import shutdown

_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes on Linux, including the terminating NUL
_RUNNING: dict[Path, EmbeddedPostgres] = {}  # servers started in this process, by PGDATA


class EmbeddedPostgres(CredentialsMixin, PrivilegesMixin, ClusterMixin, PostmasterMixin):
    """A private PostgreSQL server on 127.0.0.1, with its data kept in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        user: str = "ocore",
        database: str = "ocore",
        max_connections: int = 100,
        settings: Mapping[str, str] | None = None,
        system_user: str = "nobody",
        privilege_drop: PrivilegeDrop = "auto",
    ) -> None:
        """Describe the server; nothing touches the disk or network until ``start()``."""
        if not user or not database:
            raise ValueError("user and database must not be empty")
        if privilege_drop not in ("auto", "userns", "setuid"):
            raise ValueError(f"privilege_drop must be auto, userns or setuid: {privilege_drop!r}")
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgres.log"
        self.user = user
        self.database = database
        self.max_connections = max_connections
        self.settings = dict(settings or {})
        self.system_user = system_user
        self.privilege_drop: PrivilegeDrop = privilege_drop
        self._requested_port = port
        self._port: int | None = port
        self._password: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner_pid: int | None = None
        self._log_file: int | None = None
        self._lock = threading.RLock()
        self.startup_seconds: float | None = None

    # -- public API -------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on: loopback only."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The TCP port: as given, else the one stored from the last run if free, else a new one."""
        with self._lock:
            if self._port is None:
                stored = self._load_credentials().get("port")
                if isinstance(stored, int) and _port_is_free(stored):
                    self._port = stored
                else:
                    self._port = _free_port()
            return self._port

    @property
    def password(self) -> str:
        """The superuser's password, generated on first use and kept in the data directory."""
        with self._lock:
            if self._password is None:
                self._password = self._ensure_credentials()["password"]
            return self._password

    @property
    def url(self) -> str:
        """``postgresql://user:password@127.0.0.1:PORT/database`` for this server."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """The connection URL of another database on this server (e.g. ``postgres``)."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(database, safe='')}"
        )

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while this object runs it."""
        proc = self._proc
        return proc.pid if proc is not None else None

    @property
    def socket_dir(self) -> Path:
        """The unix socket directory: ``data_dir/run``, or a short /tmp path if that is too long."""
        candidate = self.data_dir / "run"
        if len(os.fsencode(candidate / ".s.PGSQL.65535.lock")) <= _SOCKET_PATH_MAX:
            return candidate
        digest = hashlib.sha256(os.fsencode(self.data_dir)).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"ocore-pg-{digest}"

    def is_running(self) -> bool:
        """True while the postmaster this object started is alive (in this process)."""
        with self._lock:
            proc = self._proc
            if proc is None or os.getpid() != self._owner_pid:
                return False
            return proc.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Initialise the cluster if needed, start it, wait until it accepts connections."""
        with self._lock:
            if self.is_running():
                return
            started = time.monotonic()
            deadline = started + timeout
            other = _RUNNING.get(self.pgdata)
            if other is not None and other is not self and other.is_running():
                raise EmbeddedPostgresError(f"{other!r} already runs this cluster")
            drop = self._privilege_drop()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # setuid mode: system_user must traverse data_dir (but not list or read it).
            os.chmod(self.data_dir, 0o711 if drop == "setuid" else 0o700)
            self._ensure_credentials()
            self._ensure_cluster(drop, deadline)
            self._clear_stale_server()
            self._prepare_socket_dir(drop)
            port_retries = 0 if self._requested_port is not None else 2
            while True:
                try:
                    self._spawn(drop, deadline)
                    break
                except PortInUse:
                    if port_retries == 0:
                        raise EmbeddedPostgresError(
                            f"port {self.port} is in use; pass another port"
                        ) from None
                    port_retries -= 1
                    self._port = _free_port()
                except ShmemInUse as busy:
                    # Backends of a killed postmaster still detach from shared memory.
                    if time.monotonic() > deadline:
                        raise EmbeddedPostgresError(str(busy)) from None
                    time.sleep(0.1)
            try:
                self._ensure_database(deadline)
            except BaseException:
                self.stop()
                raise
            self._save_credentials(port=self.port)
            _RUNNING[self.pgdata] = self
            self.startup_seconds = time.monotonic() - started

    def stop(self, timeout: float = 10) -> None:
        """Shut the server down (fast shutdown, escalating); safe to call any number of times."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            self._proc = None
            atexit.unregister(self._atexit_stop)
            if _RUNNING.get(self.pgdata) is self:
                del _RUNNING[self.pgdata]
            if os.getpid() != self._owner_pid:
                # A forked child: the server belongs to the parent; leave it alone.
                self._close_log()
                return
            if proc.poll() is None:
                shutdown(proc, timeout)
            self._close_log()
            with contextlib.suppress(OSError):
                (self.data_dir / "owner").unlink()

    def restart(self, timeout: float = 30) -> None:
        """Stop and start again, on the same port, data and password."""
        with self._lock:
            self.stop()
            self.start(timeout=timeout)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<EmbeddedPostgres {self.data_dir} port={self._port} {state}>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
