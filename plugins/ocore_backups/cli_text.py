"""How ``ocore backups`` renders policies, runs and sizes as text, and the errors it expects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import ocore_jobs
import ocore_ssh
from ocore_backups.backup import age_text
from ocore_backups.destination import DestinationError
from ocore_backups.errors import BackupError

if TYPE_CHECKING:
    from ocore_backups.freshness import PolicyFreshness
    from ocore_backups.policies import Policy
    from ocore_backups.runs import Run

#: failures a command reports as one line (exit 1) rather than a traceback
KNOWN: tuple[type[BaseException], ...] = (
    BackupError,
    DestinationError,
    ocore_ssh.SSHError,
    ocore_jobs.JobsError,
)


def size_text(size: int | None) -> str:
    """``1.5 MB``: bytes in decimal units (``-`` when unknown)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


def policy_lines(policy: Policy) -> list[str]:
    """A policy's settings, one per line, indented."""
    d = policy.to_dict()
    keep = []
    if d["keep_last"]:
        keep.append(f"the last {d['keep_last']}")
    if d["keep_within"]:
        keep.append(f"everything younger than {d['keep_within']}")
    return [
        f"  server           {policy.server}",
        f"  command          {policy.command}",
        f"  restore command  {policy.restore_command}",
        f"  schedule         {policy.schedule} (UTC; next {d['next_run_at']})",
        f"  max age, grace   {d['max_age']}, {d['grace']}",
        f"  keeps            {' and '.join(keep) if keep else 'every backup'}",
    ]


def run_row(run: Run) -> tuple[str, ...]:
    """A run as a table row: id, policy, status, started, duration, size, checksum."""
    status = run.status
    if run.pruned_at is not None:
        status = "pruned"
    elif run.verify_error:
        status = "corrupt"
    duration = f"{run.duration_s:.1f}s" if run.duration_s is not None else "-"
    started = run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    detail = run.sha256[:16] if run.sha256 else (run.error or "")
    return (str(run.id), run.policy, status, started, duration, size_text(run.size_bytes), detail)


RUN_HEADERS = ("ID", "POLICY", "STATUS", "STARTED (UTC)", "DURATION", "SIZE", "SHA-256 / ERROR")


def status_row(item: PolicyFreshness, now: datetime) -> tuple[str, ...]:
    """A policy's freshness as a table row."""
    state = item.state + (", failing" if item.failing else "")
    last = item.last_run or {}
    last_text = last.get("status", "-")
    if last.get("status") == "failed" and last.get("error"):
        error = last["error"]
        last_text += f": {error if len(error) <= 50 else error[:49] + '…'}"
    return (
        item.policy,
        state,
        age_text(item.last_success_at, now),
        f"{item.to_dict()['max_age']} + {item.to_dict()['grace']}",
        last_text,
    )


STATUS_HEADERS = ("POLICY", "STATE", "LAST SUCCESS", "MAX AGE + GRACE", "LAST RUN")
