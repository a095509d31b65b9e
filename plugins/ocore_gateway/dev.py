"""``ocore dev``: the SSH gateway next to the development server when SSH_GATEWAY_ENABLED.

The database plugin's hook runs first (``gateway`` requires ``database``), so DATABASE_URL is
set and the migrations are applied when this hook starts ``ocore gateway`` with the same
environment, as a companion process (``ocore_flask.cli.dev_process``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ocore_flask.cli.dev_process import companion, ocore_argv
from ocore_flask.config import DurationError, kinds, parse_duration
from ocore_flask.manager import PluginManager

log = logging.getLogger("ocore_gateway")


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether SSH_GATEWAY_ENABLED is a true value (an invalid one is reported by the app)."""
    try:
        return bool(kinds.boolean().parse(environ.get("SSH_GATEWAY_ENABLED") or "false"))
    except ValueError:
        return False


def _stop_timeout(environ: Mapping[str, str]) -> float:
    try:
        return parse_duration(environ.get("SSH_GATEWAY_SHUTDOWN_TIMEOUT") or "10s").seconds
    except DurationError:
        return 10.0


@contextmanager
def dev_services(
    environ: Mapping[str, str], instance: Path, plugins: PluginManager
) -> Iterator[dict[str, str]]:
    """The ``dev_services`` hook: ``ocore gateway`` as a subprocess while ``ocore dev`` runs,
    when SSH_GATEWAY_ENABLED; it shares no variables."""
    if not enabled(environ):
        yield {}
        return
    if not environ.get("DATABASE_URL"):
        log.info("gateway: no DATABASE_URL yet, so no development SSH gateway")
        yield {}
        return
    what = "gateway: the development SSH gateway"
    with companion(ocore_argv("gateway"), environ, what, shutdown=_stop_timeout(environ)):
        yield {}
