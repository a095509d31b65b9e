"""The example plugin: what a third party writes to extend ocore without touching the host.

It owns one setting (prefixed with its name, as third-party settings must be), one health
section, and one command under ``flask ocore``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app

from ocore_flask import Plugin
from ocore_flask.config import Config, Setting, kinds
from ocore_flask.health import CheckResult, HealthContributor, freshness
from ocore_flask.state import get_state


def _heartbeat_check() -> CheckResult:
    """Freshness of the plugin's last heartbeat: warn after a minute, fail after five."""
    state = get_state(current_app).plugin_state["example"]
    result = freshness(
        state["heartbeat"], warn_after=timedelta(minutes=1), fail_after=timedelta(minutes=5)
    )
    return replace(result, data={**result.data, "greeting": state["greeting"]})


@click.command("example")
@click.option("--name", default="operator", help="Who to greet.")
def example_command(name: str) -> None:
    """Print the configured greeting (shows a third-party command under `ocore`)."""
    from ocore_flask.cli.app_loading import app_context

    with app_context() as app:
        click.echo(f"{get_state(app).plugin_state['example']['greeting']}, {name}!")


class ExamplePlugin(Plugin):
    """A setting, a health section and a command, all from outside the host."""

    name = "example"
    description = "Example third-party plugin (greeting setting, heartbeat health, command)."
    settings = (
        Setting(
            "EXAMPLE_GREETING",
            kinds.text(),
            "Greeting printed by `ocore example` (example third-party plugin).",
            default="hello",
            example="hi",
        ),
    )

    def init_app(self, app: Flask, config: Config) -> None:
        get_state(app).plugin_state[self.name] = {
            "greeting": config["EXAMPLE_GREETING"],
            "heartbeat": datetime.now(UTC),
        }

    def health_contributors(self) -> list[HealthContributor]:
        return [HealthContributor("example", _heartbeat_check, timeout=1.0)]

    def cli_commands(self) -> list[click.Command]:
        return [example_command]


plugin = ExamplePlugin()
