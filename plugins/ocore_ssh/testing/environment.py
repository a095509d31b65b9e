"""Preparing the machine for the test sshd: OpenSSH installed, the test user present.

``scripts/ensure-sshd.sh`` (in the ocore-flask repository) does the work as root; this module
only checks and, when something is missing, runs it.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

from ocore_ssh.testing.sshd import SSHD_PATH, TEST_USER, SshdError

SCRIPT_NAME = "ensure-sshd.sh"
# Where the script is looked for: $OCORE_ENSURE_SSHD_SCRIPT, the checkout this package runs
# from (an editable install), then ./scripts of the current directory.
SCRIPT_VARIABLE = "OCORE_ENSURE_SSHD_SCRIPT"
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")

_prepared = False


def environment_ready() -> bool:
    """Whether sshd, its privilege separation directory and the test user all exist."""
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        return False
    return os.access(SSHD_PATH, os.X_OK) and PRIVILEGE_SEPARATION_DIR.is_dir()


def ensure_script() -> Path:
    """The path of ``ensure-sshd.sh``; SshdError when it cannot be found."""
    candidates = [
        os.environ.get(SCRIPT_VARIABLE),
        Path(__file__).resolve().parents[3] / "scripts" / SCRIPT_NAME,
        Path.cwd() / "scripts" / SCRIPT_NAME,
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SshdError(
        f"the test sshd needs {SSHD_PATH} and the user {TEST_USER!r}; run the repository's "
        f"scripts/{SCRIPT_NAME} as root (or point {SCRIPT_VARIABLE} at it)"
    )


def ensure_test_environment() -> None:
    """Make sure the test sshd can run here: root, OpenSSH's sshd, the test user. Runs
    ``scripts/ensure-sshd.sh`` (installs openssh-server, creates the user) only when something
    is missing; idempotent, and free after the first success in a process."""
    global _prepared
    if _prepared:
        return
    if os.geteuid() != 0:
        raise SshdError("the test sshd needs root (it reads /etc/shadow and drops privileges)")
    if not environment_ready():
        script = ensure_script()
        done = subprocess.run(["sh", str(script)], capture_output=True, timeout=600)
        if done.returncode != 0:
            raise SshdError(
                f"{script} failed with status {done.returncode}: "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
    _prepared = True
