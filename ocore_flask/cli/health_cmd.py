"""``ocore health``: the rich health checks, in-process, for operators and scripts."""

from __future__ import annotations

import sys

import click

from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.output import emit_json
from ocore_flask.state import get_state

EXIT_FAIL = 1


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print the rich payload as JSON.")
@with_app
def health_command(as_json: bool) -> None:
    """Run every health check now; exit 1 when the status is fail."""
    payload, _ = get_state().health.rich()
    if as_json:
        emit_json(payload)
    else:
        click.echo(
            f"status: {payload['status']}  (version {payload['version']}, commit "
            f"{payload['commit']}, {payload['environment']}, {payload['duration_ms']} ms)"
        )
        for name, section in payload["checks"].items():
            flag = " critical" if section["critical"] else ""
            stale = " stale" if section.get("stale") else ""
            message = f": {section['message']}" if section.get("message") else ""
            click.echo(f"  {name:<16} {section['status']:<9}{flag}{stale}{message}")
    sys.exit(EXIT_FAIL if payload["status"] == "fail" else 0)
