"""The example plugin: what a third party writes to extend ocore without touching the host.

It owns one setting (prefixed with its name, as third-party settings must be) in a typed
settings section, one health section and one command under ``ocore``; its service is what
``init_app`` returns, handed out by its accessor ``example()``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import click
from flask import Flask

from ocore_flask import Plugin
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, json_option
from ocore_flask.config import kinds, section, setting
from ocore_flask.health import CheckResult, HealthContributor, freshness
from ocore_flask.state import service_of


@section
class ExampleSettings:
    """The example plugin's one setting."""

    greeting: str = setting(
        "EXAMPLE_GREETING",
        kinds.text(),
        "Greeting printed by `ocore example` (example third-party plugin).",
        default="hello",
        example="hi",
    )


@dataclass(frozen=True)
class Example:
    """The plugin's per-app service."""

    greeting: str
    heartbeat: datetime


def example(app: Flask | None = None) -> Example:
    """The accessor: the app's ``Example`` (default: ``current_app``'s)."""
    return service_of(plugin, app)


def init_app(app: Flask, settings: ExampleSettings) -> Example:
    return Example(settings.greeting, datetime.now(UTC))


def heartbeat() -> CheckResult:
    """Freshness of the plugin's last heartbeat: warn after a minute, fail after five."""
    state = example()
    result = freshness(
        state.heartbeat, warn_after=timedelta(minutes=1), fail_after=timedelta(minutes=5)
    )
    return replace(result, data={**result.data, "greeting": state.greeting})


@click.command("example")
@click.option("--name", default="operator", help="Who to greet.")
@json_option
@with_app(needs=("example",))
def example_command(name: str, as_json: bool) -> None:
    """Print the configured greeting (shows a third-party command under `ocore`)."""
    text = f"{example().greeting}, {name}!"
    emit({"greeting": text}, as_json, text)


plugin = Plugin(
    "example",
    "Example third-party plugin (greeting setting, heartbeat health, command).",
    settings=ExampleSettings,
    hooks={
        "init_app": init_app,
        "health_contributors": lambda: [HealthContributor("example", heartbeat, timeout=1.0)],
        "cli_commands": lambda: [example_command],
    },
)
