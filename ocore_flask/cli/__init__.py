"""The ``ocore`` command group: ``flask ocore …`` (registered as a Flask CLI plugin, so it works
before any app can be built) and the ``ocore`` console script are the same group."""

from __future__ import annotations

import os

import click

from ocore_flask.cli.config_cmds import config_group
from ocore_flask.cli.dev_cmd import dev_command
from ocore_flask.cli.health_cmd import health_command
from ocore_flask.cli.plugins_cmds import plugins_group
from ocore_flask.cli.serve_cmd import serve_command
from ocore_flask.discovery import load_plugins

BUILTIN = {
    "config": config_group,
    "plugins": plugins_group,
    "health": health_command,
    "serve": serve_command,
    "dev": dev_command,
}


class OcoreGroup(click.Group):
    """Built-in commands plus those the enabled plugins declare, discovered on demand."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        cache = ctx.meta.setdefault("ocore.plugin_commands", {})
        if not cache:
            found = load_plugins(os.environ)
            cache.update({command.name: command for _, command in found.commands})
        return cache

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._plugin_commands(ctx).get(name)


@click.group(cls=OcoreGroup, name="ocore")
def ocore() -> None:
    """oCore operations: configuration, plugins, health and serving."""


for _command in BUILTIN.values():
    ocore.add_command(_command)


def main() -> None:
    """Entry point of the ``ocore`` console script."""
    ocore(prog_name="ocore")
