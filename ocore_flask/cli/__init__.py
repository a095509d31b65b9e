"""The ``ocore`` command group: ``flask ocore …`` (registered as a Flask CLI plugin, so it works
before any app can be built) and the ``ocore`` console script are the same group."""

from __future__ import annotations

import importlib
import os

import click

from ocore_flask.discovery import load_commands, load_plugins

# Built-in commands by name, imported on first use so `ocore config check` starts fast.
BUILTIN = {
    "config": "ocore_flask.cli.config_cmds:config_group",
    "plugins": "ocore_flask.cli.plugins_cmds:plugins_group",
    "health": "ocore_flask.cli.health_cmd:health_command",
    "serve": "ocore_flask.cli.serve_cmd:serve_command",
    "dev": "ocore_flask.cli.dev_cmd:dev_command",
}


def _builtin(name: str) -> click.Command:
    module, attribute = BUILTIN[name].split(":")
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
        return sorted(set(BUILTIN) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in BUILTIN:
            return _builtin(name)
        return self._plugin_commands(ctx).get(name)


@click.group(cls=OcoreGroup, name="ocore")
def ocore() -> None:
    """oCore operations: configuration, plugins, health and serving."""


def main() -> None:
    """Entry point of the ``ocore`` console script."""
    ocore(prog_name="ocore")
