"""The plugin contract: what a subsystem (first- or third-party) offers the host.

A plugin is any object published in the ``ocore_flask.plugins`` entry-point group; subclassing
``Plugin`` gives no-op defaults for the hooks a plugin has nothing to say for.
"""

from __future__ import annotations

import contextlib
from collections.abc import MutableMapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from flask import Flask

    from ocore_flask.config.declarations import CrossRule, Setting
    from ocore_flask.config.loader import Config
    from ocore_flask.health.contributor import HealthContributor

ENTRY_POINT_GROUP = "ocore_flask.plugins"


class Plugin:
    """Base class with the contract's attributes and no-op hooks."""

    #: entry-point name, lowercase ``[a-z][a-z0-9_]*``
    name: str = ""
    description: str = ""
    #: plugins that must be initialised first
    requires: tuple[str, ...] = ()
    #: a core plugin cannot be disabled with OCORE_DISABLED_PLUGINS
    core: bool = False
    #: the environment variables this plugin owns
    settings: tuple[Setting, ...] = ()
    #: cross-field rules over its settings
    rules: tuple[CrossRule, ...] = ()
    #: folder of the Alembic revisions this plugin owns (applied by ``ocore db upgrade``)
    migrations: str | Path | None = None

    def init_app(self, app: Flask, config: Config) -> None:
        """Set up per-app state under ``app.extensions["ocore"].state[self.name]``."""

    def health_contributors(self) -> Sequence[HealthContributor]:
        """Sections this plugin adds to the rich health payload (declarations, no I/O)."""
        return ()

    def cli_commands(self) -> Sequence[click.Command]:
        """Click commands mounted under ``flask ocore`` / ``ocore``."""
        return ()

    def close(self, app: Flask) -> None:
        """Release what ``init_app`` acquired (connections, threads) at shutdown."""

    def dev_services(
        self, environ: MutableMapping[str, str], instance: Path
    ) -> AbstractContextManager[Any]:
        """``ocore dev`` only, before the app is built: start local stand-ins (an embedded
        database, a mail sink) and fill the variables they answer in ``environ`` when unset."""
        return contextlib.nullcontext()


def hook(plugin: Any, name: str, *args: Any) -> Any:
    """Call an optional hook on a duck-typed plugin; missing hooks give the base's default."""
    method = getattr(plugin, name, None)
    if method is None:
        return getattr(Plugin(), name)(*args)
    return method(*args)
