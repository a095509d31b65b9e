"""``ocore backups run|list|status|verify|restore|prune``.

``run POLICY`` queues a ``backups.run`` job (none if one is already queued or running for the
policy) and prints its id; ``--wait`` waits for it to finish and prints the run, exiting 1 when
it failed. With ``--wait`` and no live worker, the run happens in this process instead (same
lock, same record, ``job_id`` empty): a development machine needs no worker for a manual run.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

import click

import ocore_backups
import ocore_jobs
from ocore_backups.cli_text import (
    KNOWN,
    RUN_HEADERS,
    STATUS_HEADERS,
    run_row,
    size_text,
    status_row,
)
from ocore_backups.health import summarise
from ocore_backups.runs import Run
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, fail, json_option, known_errors, progress, table
from ocore_flask.invocation import invoked

FINISHED = ("succeeded", "failed", "cancelled", "aborted")
POLL = 0.25
PROGRESS_EVERY = 1.0


class _Progress:
    """A progress line (``kit.progress``: terminals only, not with --json) at most every
    PROGRESS_EVERY seconds."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, size: int | None, state: str = "") -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        elapsed = now - self.started
        rate = f", {size_text(int(size / elapsed))}/s" if size and elapsed > 0 else ""
        progress(f"{self.what}: {state + ' ' if state else ''}{size_text(size)}{rate}")


def _run_result(run: Run) -> dict[str, Any]:
    return {"id": run.id, "status": run.status, "run": run.to_dict()}


def _run_text(run: Run) -> str:
    if run.status == "succeeded":
        return (
            f"Backup run {run.id} of {run.policy} succeeded: {size_text(run.size_bytes)} in "
            f"{run.duration_s:.1f}s, sha256 {run.sha256}\n  stored as {run.path}"
        )
    detail = f" (exit status {run.exit_status})" if run.exit_status not in (None, 0) else ""
    stderr = f"\n  last stderr line: {run.stderr_line}" if run.stderr_line else ""
    return f"Backup run {run.id} of {run.policy} failed{detail}: {run.error}{stderr}"


def _finish(run: Run, as_json: bool) -> None:
    emit(_run_result(run), as_json, _run_text(run))
    if run.status != "succeeded":
        sys.exit(1)


def _wait_for_job(job_id: int, policy: str) -> Run:
    """Poll the job (and its run's progress) until it finishes; its run."""
    service, jobs = ocore_backups.backups(), ocore_jobs.jobs()
    show = _Progress(f"backup {policy}")
    while True:
        job = jobs.job(job_id)
        run = service.runs.by_job(job_id)
        if job.status in FINISHED:
            break
        show(run.size_bytes if run else None, job.status if run is None else "running")
        time.sleep(POLL)
    if run is None:
        reason = job.last_error or "another process was running the policy, or it was removed"
        fail(f"job {job_id} ({job.status}) ran no backup of {policy}: {reason}")
    return service.runs.get(run.id)


@click.command("run")
@click.argument("policy")
@click.option("--wait", is_flag=True, help="Wait for the run to finish (runs here w/o worker).")
@json_option
@with_app
def run_command(policy: str, wait: bool, as_json: bool) -> None:
    """Back up POLICY now: queue a run (or, with --wait, wait for its outcome)."""
    with known_errors(*KNOWN):
        service = ocore_backups.backups()
        service.policies.get(policy)
        if wait and ocore_jobs.jobs().status().workers_alive == 0:
            show = _Progress(f"backup {policy}")
            _finish(service.run(policy, on_progress=show), as_json)
            return
        job_id, deferred = service.enqueue(policy, "manual")
        if not wait:
            state = "queued" if deferred else "already queued or running"
            emit(
                {"policy": policy, "job": job_id, "status": "queued", "deferred": deferred},
                as_json,
                f"Backup of {policy} {state} as job {job_id}; "
                f"`{invoked(f'backups list {policy}')}` shows the outcome.",
            )
            return
        run = _wait_for_job(job_id, policy)
    _finish(run, as_json)


@click.command("list")
@click.argument("policy", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@with_app
def list_command(policy: str | None, limit: int, as_json: bool) -> None:
    """List backup runs (newest first), of POLICY or of all policies."""
    with known_errors(*KNOWN):
        service = ocore_backups.backups()
        if policy is not None:
            service.policies.get(policy)
        found = service.runs.list(policy, limit=limit)

    def text() -> str | None:
        if not found:
            return "No backup runs yet."
        table(RUN_HEADERS, [run_row(run) for run in found])
        return None

    emit([run.to_dict() for run in found], as_json, text)


@click.command("status")
@json_option
@with_app
def status_command(as_json: bool) -> None:
    """Freshness of every policy: ok, late, stale or never, and failing."""
    with known_errors(*KNOWN):
        service = ocore_backups.backups()
        found = service.freshness()
    section = summarise(found, service.destination is not None)
    result = {
        "status": section.status,
        "message": section.message,
        "counts": section.data["counts"],
        "policies": [item.to_dict() for item in found],
    }

    def text() -> str | None:
        if not found:
            return f"No backup policies. Add one with `{invoked('backups policy add')}`."
        now = datetime.now(UTC)
        table(STATUS_HEADERS, [status_row(item, now) for item in found])
        return None

    emit(result, as_json, text)


@click.command("verify")
@click.argument("run_id", metavar="RUN", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Verify every stored backup.")
@json_option
@with_app
def verify_command(run_id: int | None, every: bool, as_json: bool) -> None:
    """Re-hash stored backups against their recorded SHA-256; exit 1 on any mismatch."""
    if (run_id is None) == (not every):
        raise click.UsageError("give a RUN id or --all (not both)")
    with known_errors(*KNOWN):
        service = ocore_backups.backups()
        found = service.verify_all() if every else [service.verify(run_id)]  # type: ignore[arg-type]
    bad = [item for item in found if not item.ok]

    def text() -> str:
        if not found:
            return "No stored backups to verify."
        lines = [
            f"run {item.run_id} ({item.policy}): " + ("OK" if item.ok else f"FAILED: {item.error}")
            for item in found
        ]
        lines.append(f"{len(found) - len(bad)} of {len(found)} verified")
        return "\n".join(lines)

    emit(
        {"verified": len(found), "failed": len(bad), "runs": [i.to_dict() for i in found]},
        as_json,
        text,
    )
    if bad:
        sys.exit(1)


@click.command("restore")
@click.argument("run_id", metavar="RUN", type=int)
@click.option("--to", "server", help="Restore on this server instead of the policy's.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@with_app
def restore_command(run_id: int, server: str | None, yes: bool, as_json: bool) -> None:
    """Stream stored backup RUN into its policy's restore command; exit with its status."""
    with known_errors(*KNOWN):
        service = ocore_backups.backups()
        run = service.runs.get(run_id)
        policy = service.policies.get(run.policy)
        target = server or policy.server
        if not yes:
            if as_json:
                fail("restoring needs confirmation: add --yes")
            question = (
                f"Restore run {run.id} of {run.policy} ({size_text(run.size_bytes)}) into "
                f"`{policy.restore_command}` on {target}?"
            )
            if not click.confirm(question, err=True):
                fail("not restored: not confirmed")
        show = _Progress(f"restore {run.id} to {target}")
        outcome = service.restore(run_id, server=server, on_progress=show)
    if outcome.ok:
        text = (
            f"Restored run {run.id} of {run.policy} on {target}: {size_text(outcome.bytes_sent)} "
            f"in {outcome.duration_s:.1f}s, restore command exited 0."
        )
    else:
        last = f"\n  last stderr line: {outcome.stderr_line}" if outcome.stderr_line else ""
        text = f"Restore of run {run.id} on {target} failed: {outcome.error}{last}"
    emit(outcome.to_dict(), as_json, text)
    if not outcome.ok:
        status = outcome.exit_status
        sys.exit(status if status is not None and 0 < status < 256 else 1)


@click.command("prune")
@click.argument("policy")
@json_option
@with_app
def prune_command(policy: str, as_json: bool) -> None:
    """Apply POLICY's retention now (it also runs after every successful backup)."""
    with known_errors(*KNOWN):
        pruned = ocore_backups.backups().prune(policy)
    emit(
        {"policy": policy, "pruned": pruned},
        as_json,
        f"Pruned {len(pruned)} backup(s) of {policy}.",
    )
