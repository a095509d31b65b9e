"""Small helpers shared by the CLI commands: JSON output and startup-error exits."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from ocore_flask.errors import StartupError


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def exit_startup_error(error: StartupError) -> NoReturn:
    """Print a startup error's report to stderr and exit with its status, no traceback."""
    click.echo(error.render(), err=True)
    sys.exit(error.exit_code)
