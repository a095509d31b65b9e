"""A real OpenSSH sshd on 127.0.0.1 for tests: private config, host keys and authorized_keys.

Call ``ensure_test_environment()`` first (as root): it runs ``scripts/ensure-sshd.sh`` when
``openssh-server`` or the test-only user ``ocore-sshtest`` (whose password is the fixed
test-only value below) is missing. The daemon
runs in the foreground (``-D -e``) from a temporary directory, logs to a file there and never
touches the system's sshd configuration or keys.

Password authentication for the local user works from this custom config both ways, because
sshd runs as root and can read ``/etc/shadow``: with ``UsePAM no`` sshd checks the shadow hash
itself; with ``UsePAM yes`` Debian's ``/etc/pam.d/sshd`` does it through ``pam_unix``. PAM is
not needed, and ``pam_unix`` adds a ~2-4 s delay to every failed password (the wrong-password
tests would pay it), so the default is ``UsePAM no``; pass ``use_pam=True`` to exercise PAM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ocore_flask.testing.processes import free_port
from ocore_ssh.testing.processtree import freeze_tree

SSHD_PATH = "/usr/sbin/sshd"
SSH_KEYGEN_PATH = "ssh-keygen"
TEST_USER = os.environ.get("OCORE_SSHTEST_USER", "ocore-sshtest")
# Test-only credential, set by scripts/ensure-sshd.sh; the daemon only listens on loopback.
TEST_PASSWORD = os.environ.get("OCORE_SSHTEST_PASSWORD", "ocore-test-only-pw")
HOST = "127.0.0.1"
HOST_KEY_TYPES = ("ed25519", "rsa")

# Options that only newer OpenSSH releases know; dropped when `sshd -t` rejects them.
_OPTIONAL_OPTIONS = {
    # OpenSSH >= 9.8 penalises sources that fail authentication; tests fail auth on purpose.
    "PerSourcePenalties": "no",
}


class SshdError(RuntimeError):
    """The test sshd could not be configured or did not come up."""


class Sshd:
    """A foreground OpenSSH sshd on 127.0.0.1 with its own keys, config and log."""

    def __init__(
        self,
        *,
        user: str = TEST_USER,
        password: str = TEST_PASSWORD,
        use_pam: bool = False,
        startup_timeout: float = 10.0,
        sshd_path: str = SSHD_PATH,
    ) -> None:
        self.user = user
        self.password = password
        self.use_pam = use_pam
        self.startup_timeout = startup_timeout
        self.sshd_path = sshd_path
        self.host = HOST
        self.port = free_port(HOST)
        self.dir = Path(tempfile.mkdtemp(prefix="ocore-sshd-"))
        # sshd reads AuthorizedKeysFile as the target user, so the directory must be traversable.
        self.dir.chmod(0o755)
        self.config_path = self.dir / "sshd_config"
        self.authorized_keys_path = self.dir / "authorized_keys"
        self.pid_path = self.dir / "sshd.pid"
        self.log_path = self.dir / "sshd.log"
        self.authorized_keys_path.write_text("")
        self.authorized_keys_path.chmod(0o644)
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._generate_host_keys()
            self._write_config()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    # -- keys and config -------------------------------------------------------------------

    def _host_key_path(self, key_type: str) -> Path:
        return self.dir / f"ssh_host_{key_type}_key"

    def _generate_host_keys(self) -> None:
        """Create fresh ed25519 and rsa host keys in the temporary directory."""
        for key_type in HOST_KEY_TYPES:
            path = self._host_key_path(key_type)
            for stale in (path, path.with_suffix(".pub")):
                stale.unlink(missing_ok=True)
            args = [SSH_KEYGEN_PATH, "-q", "-t", key_type, "-N", "", "-C", "", "-f", str(path)]
            if key_type == "rsa":
                args[4:4] = ["-b", "2048"]
            subprocess.run(args, check=True, capture_output=True, timeout=30)
            path.chmod(0o600)

    def _config_text(self, optional: dict[str, str]) -> str:
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            *(f"HostKey {self._host_key_path(t)}" for t in HOST_KEY_TYPES),
            f"PidFile {self.pid_path}",
            f"AuthorizedKeysFile {self.authorized_keys_path}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "PermitEmptyPasswords no",
            "KbdInteractiveAuthentication no",
            f"UsePAM {'yes' if self.use_pam else 'no'}",
            f"AllowUsers {self.user}",
            "PermitRootLogin no",
            "MaxStartups 200:30:400",
            "MaxSessions 100",
            "MaxAuthTries 10",
            "LoginGraceTime 30",
            "LogLevel VERBOSE",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "PermitTunnel no",
            "ClientAliveInterval 0",
            "Subsystem sftp internal-sftp",
        ]
        lines += [f"{name} {value}" for name, value in optional.items()]
        return "\n".join(lines) + "\n"

    def _write_config(self) -> None:
        """Write the config, keeping the optional options this sshd version accepts."""
        accepted: dict[str, str] = {}
        for name, value in _OPTIONAL_OPTIONS.items():
            self.config_path.write_text(self._config_text({**accepted, name: value}))
            if self._config_test().returncode == 0:
                accepted[name] = value
        self.config_path.write_text(self._config_text(accepted))
        check = self._config_test()
        if check.returncode != 0:
            raise SshdError(f"sshd rejected its test config: {check.stderr.decode().strip()}")

    def _config_test(self) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.sshd_path, "-t", "-f", str(self.config_path)],
            capture_output=True,
            timeout=30,
        )

    @property
    def host_public_keys(self) -> dict[str, str]:
        """Map key type to the OpenSSH public key line ("type base64") the server presents."""
        keys = {}
        for key_type in HOST_KEY_TYPES:
            parts = self._host_key_path(key_type).with_suffix(".pub").read_text().split()
            keys[key_type] = f"{parts[0]} {parts[1]}"
        return keys

    @property
    def host_key_fingerprints(self) -> dict[str, str]:
        """Map key type to the SHA256 fingerprint ("SHA256:...") of the host key."""
        prints = {}
        for key_type in HOST_KEY_TYPES:
            out = subprocess.run(
                [SSH_KEYGEN_PATH, "-l", "-E", "sha256", "-f", str(self._host_key_path(key_type))],
                check=True,
                capture_output=True,
                timeout=30,
            ).stdout.decode()
            prints[key_type] = out.split()[1]
        return prints

    def authorize(self, public_key_line: str) -> None:
        """Append an OpenSSH public key line to the server's AuthorizedKeysFile."""
        line = public_key_line.strip()
        if not line or "\n" in line:
            raise ValueError("expected exactly one public key line")
        with self.authorized_keys_path.open("a") as fh:
            fh.write(line + "\n")

    def rotate_host_keys(self) -> None:
        """Replace the host keys with new ones and restart (same port), as a reinstall would."""
        running = self.running
        if running:
            self.stop()
        self._generate_host_keys()
        if running:
            self.start()

    # -- process control -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the daemon process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The listener's pid, or None when stopped."""
        return self._proc.pid if self.running and self._proc else None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the daemon's log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Start sshd in the foreground and wait until it greets with SSH-2.0."""
        if self.running:
            return
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                [self.sshd_path, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise SshdError(f"sshd exited with status {code}; log tail:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                    banner = sock.recv(256)
                if banner.startswith(b"SSH-2.0"):
                    return
                last_error = f"unexpected greeting {banner[:40]!r}"
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.05)
        raise SshdError(
            f"sshd did not greet on {self.host}:{self.port} within {self.startup_timeout}s "
            f"({last_error}); log tail:\n{self.log_tail()}"
        )

    def stop(self, *, kill_sessions: bool = True) -> None:
        """Stop the listener and, by default, every connection it spawned (like a reboot)."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            if kill_sessions:
                # Per-connection processes call setsid(), so killing the process group misses
                # them; freeze the whole tree first (a monitor may be forking its post-auth
                # child right now), then kill every connection process.
                for child in freeze_tree(proc.pid):
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            proc.terminate()
            os.kill(proc.pid, signal.SIGCONT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.pid_path.unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop and start again on the same port with the same host keys."""
        self.stop()
        self.start()

    def established_connections(self) -> int:
        """Count established TCP connections to the server port, as the kernel sees them."""
        out = subprocess.run(
            ["ss", "-Htn", "state", "established", f"( sport = :{self.port} )"],
            check=True,
            capture_output=True,
            timeout=10,
        ).stdout.decode()
        return sum(1 for line in out.splitlines() if re.search(rf":{self.port}\s", line))

    def cleanup(self) -> None:
        """Stop the daemon and delete its temporary directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Sshd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Sshd({self.host}:{self.port}, user={self.user!r}, {state})"
