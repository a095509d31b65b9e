"""Shared fixtures. Every test runs with an isolated process environment: nothing from the
developer's shell (a DATABASE_URL, a JWT_SECRET…) can leak into what a test sees."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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
)

# Test-only values: strong enough for the strict rules, recognisable when grepping output.
JWT_SECRET = "test-jwt-Zq8vL3nR5tW9yB2dF6hK1mP4sX7cV0aE"
SSH_KEY = "test-ssh-Hk3Lm9Np2Qr5St8Uv1Wx4Yz7Ab0Cd6Ef"
HEALTH_TOKEN = "test-health-Jd8Kf3Lg6Mh9Nj2Pk5Ql0Rm4Sn7Tp1"


@pytest.fixture(autouse=True)
def isolated_environ() -> Iterator[dict[str, str]]:
    """Replace os.environ with a minimal copy for the test; restore it afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({k: v for k, v in saved.items() if k in KEEP})
    try:
        yield os.environ  # type: ignore[misc]
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def strict_env() -> dict[str, str]:
    """A complete, valid production environment (host settings only, no plugin's)."""
    return {
        "ENVIRONMENT": "production",
        "JWT_SECRET": JWT_SECRET,
        "APP_URL": "https://ocore.example.com",
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
    }


@pytest.fixture
def dev_env() -> dict[str, str]:
    """A minimal valid development environment (host settings only)."""
    return {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET}
