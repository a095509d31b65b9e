"""Running initdb and postgres unprivileged when started as root (user namespace or setpriv)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Literal

from .errors import EmbeddedPostgresError

PrivilegeDrop = Literal["auto", "userns", "setuid"]

_userns_ok: dict[tuple[int, int], bool] = {}


class PrivilegesMixin:
    """How EmbeddedPostgres drops root: the mode, the ids and the command prefix."""

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
