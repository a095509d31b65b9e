"""The ``ocore`` command group: ``flask ocore …`` (registered as a Flask CLI plugin, so it works
before any app can be built) and the ``ocore`` console script are the same group."""

from __future__ import annotations

import importlib
import os

import click

from ocore_flask.commands import HOST_COMMANDS
from ocore_flask.discovery import load_commands, load_plugins


def _builtin(name: str) -> click.Command:
    module, attribute = HOST_COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), attribute)


class OcoreGroup(click.Group):
    """Built-in commands plus those the enabled plugins declare, discovered on demand."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        cache = ctx.meta.setdefault("ocore.plugin_commands", {})
        if not cache:
            found = load_plugins(os.environ)
            cache.update({command.name: command for _, command in load_commands(found)})
        return cache

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(HOST_COMMANDS) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in HOST_COMMANDS:
            return _builtin(name)
        return self._plugin_commands(ctx).get(name)


@click.group(cls=OcoreGroup, name="ocore")
def ocore() -> None:
    """oCore operations: configuration, plugins, health and serving."""


def main() -> None:
    """Entry point of the ``ocore`` console script."""
    ocore(prog_name="ocore")
