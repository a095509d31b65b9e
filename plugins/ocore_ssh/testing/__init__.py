"""The SSH test kit: a real OpenSSH sshd on 127.0.0.1 and in-memory SSH keys.

It is a pytest plugin (entry point ``pytest11: ocore_ssh``, module ``ocore_ssh.testing.plugin``)
with one fixture, ``sshd``: a running ``Sshd`` per test module (start one yourself,
``with Sshd() as server:``, to stop, restart or re-key a daemon). Plain helpers::

    from ocore_ssh.testing import Sshd, ensure_test_environment     # the daemon
    from ocore_ssh.testing import ed25519_openssh, public_line, body_lines   # key material
    from ocore_ssh.testing import user_processes   # what a session left running

Needs root: ``ensure_test_environment()`` installs openssh-server and creates the test user
through ``scripts/ensure-sshd.sh`` when they are missing. Names load on first use, so pytest's
import of the plugin stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_flask.plugin import lazy_exports

if TYPE_CHECKING:
    from ocore_ssh.testing.environment import ensure_test_environment
    from ocore_ssh.testing.keys import body_lines, ed25519_openssh, public_line
    from ocore_ssh.testing.processtree import user_processes
    from ocore_ssh.testing.sshd import HOST, TEST_PASSWORD, TEST_USER, Sshd, SshdError

_LAZY = {
    "HOST": "ocore_ssh.testing.sshd",
    "TEST_PASSWORD": "ocore_ssh.testing.sshd",
    "TEST_USER": "ocore_ssh.testing.sshd",
    "Sshd": "ocore_ssh.testing.sshd",
    "SshdError": "ocore_ssh.testing.sshd",
    "ensure_test_environment": "ocore_ssh.testing.environment",
    "body_lines": "ocore_ssh.testing.keys",
    "ed25519_openssh": "ocore_ssh.testing.keys",
    "public_line": "ocore_ssh.testing.keys",
    "user_processes": "ocore_ssh.testing.processtree",
}

__all__ = [
    "HOST",
    "TEST_PASSWORD",
    "TEST_USER",
    "Sshd",
    "SshdError",
    "body_lines",
    "ed25519_openssh",
    "ensure_test_environment",
    "public_line",
    "user_processes",
]


__getattr__ = lazy_exports(__name__, _LAZY)
