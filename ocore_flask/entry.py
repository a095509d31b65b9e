"""Entry-point glue: build the app or exit with the report and a status, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask

from ocore_flask.app import create_app
from ocore_flask.errors import StartupError

#: The status this process is exiting with because the app could not start (None while it
#: has not failed): gunicorn's hooks read it to stop the master instead of respawning.
startup_failure: int | None = None


def app_or_exit(
    environ: Mapping[str, str] | None = None, plugins: Sequence[Any] | None = None
) -> Flask:
    """``create_app()``, or print the startup report to stderr and exit with its status (78 for
    configuration). Used by ``wsgi.py`` under waitress and gunicorn, and by the CLI."""
    global startup_failure
    try:
        return create_app(environ, plugins)
    except StartupError as exc:
        print(exc.render(), file=sys.stderr, flush=True)  # noqa: T201 - the operator's report
        startup_failure = exc.exit_code
        sys.exit(exc.exit_code)
