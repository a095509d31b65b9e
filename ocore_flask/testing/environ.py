"""Test environments: the isolated process environment and the test-only secrets.

Nothing from the developer's shell (a DATABASE_URL, a JWT_SECRET...) may leak into what a test
sees, so ``isolated()`` replaces ``os.environ`` with a copy that keeps only ``KEEP``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager

# The variables a test process keeps: what subprocesses need to run at all, and the kits' own
# switches (TEST_DATABASE_URL: ocore_database.testing's PostgreSQL; OCORE_SSHTEST_*: the test
# sshd's user, read by ocore_ssh.testing).
KEEP = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TERM",
    "USER",
    "LOGNAME",
    "SHELL",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "TEST_DATABASE_URL",
    "OCORE_SSHTEST_USER",
    "OCORE_SSHTEST_PASSWORD",
)

# Test-only values: strong enough for the strict rules, recognisable when grepping output.
JWT_SECRET = "test-jwt-Zq8vL3nR5tW9yB2dF6hK1mP4sX7cV0aE"  # noqa: S105
SSH_KEY = "test-ssh-Hk3Lm9Np2Qr5St8Uv1Wx4Yz7Ab0Cd6Ef"
HEALTH_TOKEN = "test-health-Jd8Kf3Lg6Mh9Nj2Pk5Ql0Rm4Sn7Tp1"  # noqa: S105


@contextmanager
def isolated(keep: Iterable[str] = KEEP) -> Iterator[MutableMapping[str, str]]:
    """Replace ``os.environ`` with a copy holding only ``keep``; restore it afterwards."""
    kept = frozenset(keep)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({k: v for k, v in saved.items() if k in kept})
    try:
        yield os.environ
    finally:
        os.environ.clear()
        os.environ.update(saved)


def development_environ(**overrides: str) -> dict[str, str]:
    """A valid development environment with fresh random secrets, plus ``overrides``."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": secrets.token_urlsafe(36),
        "HEALTH_CHECK_TOKEN": secrets.token_urlsafe(36),
        **overrides,
    }


def dev_environ(**overrides: str) -> dict[str, str]:
    """The ``dev_env`` fixture's value: a minimal valid development environment (host
    settings only, the fixed test JWT_SECRET), plus ``overrides``."""
    return {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET, **overrides}


def strict_environ(**overrides: str) -> dict[str, str]:
    """The ``strict_env`` fixture's value: a complete, valid production environment (host
    settings only, no plugin's), plus ``overrides``."""
    return {
        "ENVIRONMENT": "production",
        "JWT_SECRET": JWT_SECRET,
        "APP_URL": "https://ocore.example.com",
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        **overrides,
    }
