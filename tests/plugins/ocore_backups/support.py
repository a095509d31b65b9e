"""Helpers shared by the backups tests."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from click.testing import Result


def as_json(result: Result) -> Any:
    """The command's stdout as JSON (fails the test with its output otherwise)."""
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not JSON (exit {result.exit_code}): {result.output}") from None


def remote_processes(user: str, needle: str) -> list[str]:
    """The live processes of ``user`` whose command line contains ``needle``."""
    out = subprocess.run(
        ["ps", "-u", user, "-o", "stat=,args="], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in out.splitlines() if needle in line and not line.startswith("Z")]
