"""``ocore backups``: policies (``policy add|list|show|remove``); runs, status, verification and
restores live in ``cli_runs``. Every command takes ``--json``; errors are one scrubbed line on
stderr with exit status 1."""

from __future__ import annotations

import click

import ocore_backups
from ocore_backups.cli_runs import (
    list_command,
    prune_command,
    restore_command,
    run_command,
    status_command,
    verify_command,
)
from ocore_backups.cli_text import KNOWN, policy_lines
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, json_option, known_errors, table
from ocore_flask.invocation import invoked


@click.group("backups")
def backups_group() -> None:
    """Backups of managed servers over SSH: policies, runs, verify, restore, freshness."""


@backups_group.group("policy")
def policy_group() -> None:
    """Backup policies: what to back up on which server, when, how fresh, how long kept."""


@policy_group.command("add")
@click.argument("name")
@click.option("--server", required=True, help="Managed server (`ocore ssh list`).")
@click.option(
    "--command", "command", required=True, help="Command whose standard output is the backup."
)
@click.option("--restore-command", required=True, help="Command that restores a backup from stdin.")
@click.option("--schedule", required=True, help="Cron expression, five fields, UTC: '30 2 * * *'.")
@click.option("--max-age", required=True, help="Fresh while the last success is younger (26h).")
@click.option("--grace", required=True, help="Late (not stale) this much longer (2h).")
@click.option("--keep", "keep_last", type=int, help="Keep the last N successful backups.")
@click.option("--keep-within", help="Keep every backup younger than this (720h).")
@json_option
@with_app
def policy_add(
    name: str,
    server: str,
    command: str,
    restore_command: str,
    schedule: str,
    max_age: str,
    grace: str,
    keep_last: int | None,
    keep_within: str | None,
    as_json: bool,
) -> None:
    """Add backup policy NAME."""
    with known_errors(*KNOWN):
        policy = ocore_backups.backups().add_policy(
            name,
            server=server,
            command=command,
            restore_command=restore_command,
            schedule=schedule,
            max_age=max_age,
            grace=grace,
            keep_last=keep_last,
            keep_within=keep_within,
        )
    text = [f"Added backup policy {policy.name}.", *policy_lines(policy)]
    emit({"added": policy.name, "policy": policy.to_dict()}, as_json, "\n".join(text))


@policy_group.command("list")
@json_option
@with_app
def policy_list(as_json: bool) -> None:
    """List the backup policies."""
    with known_errors(*KNOWN):
        found = ocore_backups.backups().policies.list()

    def text() -> str | None:
        if not found:
            return f"No backup policies. Add one with `{invoked('backups policy add')}`."
        rows = [
            (p.name, p.server, p.schedule, d["max_age"], d["grace"], _retention(d))
            for p in found
            for d in [p.to_dict()]
        ]
        table(("NAME", "SERVER", "SCHEDULE", "MAX AGE", "GRACE", "KEEP"), rows)
        return None

    emit([policy.to_dict() for policy in found], as_json, text)


def _retention(described: dict) -> str:
    parts = []
    if described["keep_last"]:
        parts.append(f"last {described['keep_last']}")
    if described["keep_within"]:
        parts.append(f"within {described['keep_within']}")
    return " or ".join(parts) or "all"


@policy_group.command("show")
@click.argument("name")
@json_option
@with_app
def policy_show(name: str, as_json: bool) -> None:
    """Show backup policy NAME."""
    with known_errors(*KNOWN):
        policy = ocore_backups.backups().policies.get(name)
    emit(policy.to_dict(), as_json, "\n".join([policy.name, *policy_lines(policy)]))


@policy_group.command("remove")
@click.argument("name")
@click.option(
    "--delete-backups", is_flag=True, help="Also delete its stored backup files (else kept)."
)
@json_option
@with_app
def policy_remove(name: str, delete_backups: bool, as_json: bool) -> None:
    """Remove backup policy NAME and its run history."""
    with known_errors(*KNOWN):
        service = ocore_backups.backups()
        kept = service.remove_policy(name, delete_files=delete_backups)
        where = service.destination.describe() if service.destination else "BACKUP_DIR"
    text = f"Removed backup policy {name}."
    if kept:
        text += f" Its {len(kept)} stored backup file(s) stay in {where}/{name}/."
    elif delete_backups:
        text += " Its stored backups were deleted."
    emit({"removed": name, "files_kept": kept}, as_json, text)


for _command in (
    run_command,
    list_command,
    status_command,
    verify_command,
    restore_command,
    prune_command,
):
    backups_group.add_command(_command)


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [backups_group]
