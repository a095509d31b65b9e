"""The cluster on disk: initdb into PGDATA once, the socket directory, a stale postmaster."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .binaries import find_bin_dir
from .errors import EmbeddedPostgresError
from .procfs import is_postmaster_of, pid_alive, process_identity, read_pid, shutdown_pid


class ClusterMixin:
    """EmbeddedPostgres's cluster on disk: created once, made safe to start on."""

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
            pid = read_pid(lock)
            if pid is None or not pid_alive(pid):
                lock.unlink(missing_ok=True)
                Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)

    def _clear_stale_server(self) -> None:
        """Deal with a postmaster.pid left behind: remove it, or stop an orphaned server."""
        pidfile = self.pgdata / "postmaster.pid"
        pid = read_pid(pidfile)
        if pid is None:
            pidfile.unlink(missing_ok=True)
            return
        if not (pid_alive(pid) and is_postmaster_of(pid, self.pgdata)):
            pidfile.unlink(missing_ok=True)  # the server crashed; its pid may now be reused
            return
        owner = self._read_owner()
        if owner is not None and process_identity(owner[0]) == owner and owner[0] != os.getpid():
            raise EmbeddedPostgresError(
                f"PostgreSQL (pid {pid}) already runs on {self.pgdata}, "
                f"started by live process {owner[0]}"
            )
        # Orphaned by a crashed owner (or by an earlier object in this process): stop it.
        shutdown_pid(pid, timeout=10)
        if not pid_alive(pid):
            pidfile.unlink(missing_ok=True)

    def _read_owner(self) -> tuple[int, str] | None:
        try:
            pid_text, _, start = (self.data_dir / "owner").read_text().strip().partition(" ")
            return int(pid_text), start
        except (OSError, ValueError):
            return None
