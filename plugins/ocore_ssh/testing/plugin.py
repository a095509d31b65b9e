"""The ``ocore_ssh`` pytest plugin (entry point ``pytest11``): a real sshd per test module.

pytest imports this module at startup in every run; the daemon's code loads in the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ocore_ssh.testing.sshd import Sshd


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    """A running OpenSSH sshd on 127.0.0.1 (fresh host keys, empty authorized_keys) shared by
    the test module. Tests that stop, restart or re-key a daemon start their own ``Sshd``."""
    from ocore_ssh.testing.environment import ensure_test_environment
    from ocore_ssh.testing.sshd import Sshd

    ensure_test_environment()
    with Sshd() as server:
        yield server
