"""``ocore dev``: one worker next to the development server, stopped with it.

The database plugin's hook runs first (``jobs`` requires ``database``): DATABASE_URL is set and
the migrations are applied when this hook starts ``ocore worker`` with the same environment, as
a companion process (``ocore_flask.cli.dev_process``) stopped within JOBS_SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ocore_flask.cli.dev_process import companion, ocore_argv
from ocore_flask.config import DurationError, parse_duration
from ocore_flask.manager import PluginManager

log = logging.getLogger("ocore_jobs")

DEFAULT_SHUTDOWN = 30.0


def _shutdown_timeout(environ: Mapping[str, str]) -> float:
    try:
        return parse_duration(environ.get("JOBS_SHUTDOWN_TIMEOUT") or "30s").seconds
    except DurationError:
        return DEFAULT_SHUTDOWN  # the configuration report names it


@contextmanager
def dev_services(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: a worker subprocess while ``ocore dev`` runs; it shares no
    variables."""
    if not environ.get("DATABASE_URL"):
        log.info("jobs: no DATABASE_URL yet, so no development worker")
        yield {}
        return
    what = "jobs: the development worker"
    with companion(ocore_argv("worker"), environ, what, shutdown=_shutdown_timeout(environ)):
        yield {}
