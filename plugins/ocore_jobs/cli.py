"""``ocore worker`` and ``ocore jobs``: run a worker; inspect, retry, cancel and defer jobs.

Errors are one line on stderr (scrubbed) with exit status 1: an unknown task (with the nearest
names), arguments that are not a JSON object or not what the task takes, a job that is not
there or not in a state the command applies to.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click
from flask import current_app

import ocore_jobs
from ocore_flask.cli.app_loading import with_app
from ocore_flask.cli.kit import emit, json_option, known_errors, table
from ocore_flask.health.freshness import format_age
from ocore_flask.invocation import invoked
from ocore_jobs.errors import BadArguments, JobsError
from ocore_jobs.queries import STATUSES, JobInfo
from ocore_jobs.settings import QUEUE_RE, QUEUE_RULE

KNOWN = (JobsError,)


def _queue_names(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    names = [value] if isinstance(value, str) else list(value or ())
    bad = next((name for name in names if not QUEUE_RE.fullmatch(name)), None)
    if bad is not None:
        raise click.BadParameter(f"{bad!r} is not a queue name ({QUEUE_RULE})")
    return value


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else format_age(timedelta(seconds=seconds))


@click.command("worker")
@click.option(
    "--queue",
    "-q",
    "queues",
    multiple=True,
    callback=_queue_names,
    help="Take jobs of this queue (repeatable; default JOBS_QUEUES, else every queue).",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 64),
    help="Jobs run at the same time (default JOBS_CONCURRENCY).",
)
@json_option
@with_app
def worker_command(queues: tuple[str, ...], concurrency: int | None, as_json: bool) -> None:
    """Run a job worker until SIGTERM or Ctrl-C (running jobs finish first, bounded by
    JOBS_SHUTDOWN_TIMEOUT). With --json: a summary of what it ran, printed when it stops."""
    from ocore_jobs.worker import ready_message, run_worker

    with known_errors(*KNOWN):
        ocore_jobs.jobs().status()  # the tables exist (else: run `ocore db upgrade`)
        report = run_worker(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            queues=queues,
            concurrency=concurrency,
            on_ready=lambda report: click.echo(ready_message(report), err=True),
        )
    outcomes = report.outcomes
    emit(
        report.to_dict(),
        as_json,
        f"ocore worker: stopped ({report.stopped_by or 'done'}): {outcomes['succeeded']} "
        f"succeeded, {outcomes['failed']} failed, {len(report.recovered)} recovered",
    )


@click.group("jobs")
def jobs_group() -> None:
    """The job queue: status, jobs, retry, cancel, defer."""


@jobs_group.command("status")
@json_option
@with_app
def status_command(as_json: bool) -> None:
    """Per queue: jobs by status, the oldest waiting job's age, failures in the last hour;
    and the workers alive."""
    with known_errors(*KNOWN):
        service = ocore_jobs.jobs()
        status = service.status()
    result = {**status.to_dict(), "tasks": [spec.to_dict() for spec in service.registry.values()]}

    def text() -> None:
        tasks = ", ".join(
            t["name"] + (f" ({t['schedule']})" if t["schedule"] else "") for t in result["tasks"]
        )
        click.echo(f"Tasks: {tasks or 'none'}")
        if not result["queues"]:
            click.echo(f"No jobs. {_workers(result['workers_alive'])}")
            return
        rows = []
        for name, queue in result["queues"].items():
            counts = queue["counts"]
            rows.append(
                (
                    name,
                    *(counts[s] for s in STATUSES),
                    _age(queue["oldest_waiting_s"]),
                    queue["failures_last_hour"],
                )
            )
        headers = ("QUEUE", *(s.upper() for s in STATUSES), "OLDEST WAITING", "FAILED 1H")
        table(headers, rows)
        click.echo(_workers(result["workers_alive"]))

    emit(result, as_json, text)


def _workers(alive: int) -> str:
    if alive:
        return f"Workers alive: {alive}."
    return f"Workers alive: 0 (start one with `{invoked('worker')}`)."


@jobs_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this status.")
@click.option("--queue", callback=_queue_names, help="Only jobs of this queue.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
@with_app
def list_command(status: str | None, queue: str | None, limit: int, as_json: bool) -> None:
    """The newest jobs, newest first."""
    with known_errors(*KNOWN):
        found = ocore_jobs.jobs().jobs(status=status, queue=queue, limit=limit)

    def text() -> str | None:
        if not found:
            return "No jobs."
        rows = [
            (j.id, j.task, j.queue, j.status, j.attempts, _when(j), _short(j.last_error))
            for j in found
        ]
        table(("ID", "TASK", "QUEUE", "STATUS", "ATTEMPTS", "DEFERRED", "LAST ERROR"), rows)
        return None

    emit([job.to_dict() for job in found], as_json, text)


def _when(job: JobInfo) -> str:
    return job.deferred_at.isoformat(timespec="seconds") if job.deferred_at else "-"


def _short(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe(job: JobInfo) -> str:
    data = job.to_dict()
    lines = [f"Job {job.id}: {job.task} on queue {job.queue}: {job.status}"]
    for label, key in (
        ("arguments", "args"),
        ("attempts", "attempts"),
        ("deferred", "deferred_at"),
        ("scheduled", "scheduled_at"),
        ("started", "started_at"),
        ("finished", "finished_at"),
        ("last error", "last_error"),
    ):
        value = data[key]
        if value is None or value == {}:
            continue
        shown = json.dumps(value) if isinstance(value, dict) else value
        lines.append(f"  {label:<10} {shown}")
    return "\n".join(lines)


@jobs_group.command("show")
@click.argument("job_id", metavar="ID", type=click.IntRange(1))
@json_option
@with_app
def show_command(job_id: int, as_json: bool) -> None:
    """One job: status, arguments (scrubbed), attempts, timeline, last error."""
    with known_errors(*KNOWN):
        job = ocore_jobs.jobs().job(job_id)
    emit(job.to_dict(), as_json, _describe(job))


@jobs_group.command("retry")
@click.argument("job_id", metavar="ID", type=click.IntRange(1))
@json_option
@with_app
def retry_command(job_id: int, as_json: bool) -> None:
    """Run a failed job again now."""
    with known_errors(*KNOWN):
        job = ocore_jobs.jobs().retry(job_id)
    emit(job.to_dict(), as_json, f"Job {job.id} ({job.task}) queued again: {job.status}.")


@jobs_group.command("cancel")
@click.argument("job_id", metavar="ID", type=click.IntRange(1))
@json_option
@with_app
def cancel_command(job_id: int, as_json: bool) -> None:
    """Cancel a job that has not started yet."""
    with known_errors(*KNOWN):
        job = ocore_jobs.jobs().cancel(job_id)
    emit(job.to_dict(), as_json, f"Job {job.id} ({job.task}) cancelled.")


@jobs_group.command("defer")
@click.argument("task")
@click.option(
    "--json-args",
    "json_args",
    metavar="JSON",
    help='The task\'s arguments as a JSON object, e.g. \'{"older_than": "24h"}\'.',
)
@json_option
@with_app
def defer_command(task: str, json_args: str | None, as_json: bool) -> None:
    """Queue a job of TASK (plugin.name; `jobs status --json` lists the tasks)."""
    with known_errors(*KNOWN):
        args = _parse_args(json_args)
        service = ocore_jobs.jobs()
        job_id = service.defer(task, args)
        queue = service.registry[task].queue
    emit(
        {"id": job_id, "task": task, "queue": queue, "status": "todo", "args": args},
        as_json,
        f"Deferred {task} as job {job_id} on queue {queue}.",
    )


def _parse_args(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadArguments(f"--json-args is not JSON ({exc.args[0]})") from None
    if not isinstance(value, dict):
        raise BadArguments(
            f"--json-args must be a JSON object of argument names, not a {type(value).__name__}"
        )
    return value


def commands() -> list[click.Command]:
    """The ``cli_commands`` hook."""
    return [worker_command, jobs_group]
