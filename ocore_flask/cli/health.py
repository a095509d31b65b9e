"""``ocore health``: the rich health checks, in-process, for operators and scripts."""

from __future__ import annotations

import sys

import click

from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, json_option
from ocore_flask.state import get_state

EXIT_FAIL = 1


@click.command("health")
@json_option
@with_app
def health_command(as_json: bool) -> None:
    """Run every health check now; exit 1 when the status is fail."""
    payload, _ = get_state().health.rich()

    def text() -> None:
        click.echo(
            f"status: {payload['status']}  (version {payload['version']}, commit "
            f"{payload['commit']}, {payload['environment']}, {payload['duration_ms']} ms)"
        )
        for name, section in payload["checks"].items():
            flag = " critical" if section["critical"] else ""
            stale = " stale" if section.get("stale") else ""
            message = f": {section['message']}" if section.get("message") else ""
            click.echo(f"  {name:<16} {section['status']:<9}{flag}{stale}{message}")

    emit(payload, as_json, text)
    sys.exit(EXIT_FAIL if payload["status"] == "fail" else 0)
