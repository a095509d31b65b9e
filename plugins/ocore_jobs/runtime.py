"""The procrastinate side: an ``App`` holding the registry's tasks on a given connector, the
wrapper every job runs in, and the retry policy.

A job runs in a worker thread inside the Flask app's context (so a task uses its plugin's
typed accessors); when it raises, one scrubbed line is stored in ``jobs_errors`` before
procrastinate records the failure or schedules the retry.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import procrastinate
from flask import Flask
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from ocore_flask.tasks import Retry
from ocore_jobs.registry import Registry, TaskSpec

if TYPE_CHECKING:
    from procrastinate.connector import BaseConnector
    from procrastinate.job_context import JobContext
    from procrastinate.jobs import Job

log = logging.getLogger("ocore_jobs")

#: how every periodic task is registered (one schedule per task)
PERIODIC_ID = "ocore"

FailureHook = Callable[["Job", BaseException], None]
OutcomeHook = Callable[[str], None]


class BackoffRetry(BaseRetryStrategy):
    """``Retry(attempts, wait, backoff)``: retry at most ``attempts`` times, the n-th retry
    (n from 0) after ``wait * backoff ** n`` seconds."""

    def __init__(self, retry: Retry) -> None:
        self.retry = retry

    def delay(self, attempts: int) -> float:
        """Seconds before the retry that follows ``attempts`` earlier attempts."""
        return float(self.retry.wait * self.retry.backoff**attempts)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        """None once the attempts are used up, else when to run again."""
        if job.attempts >= self.retry.attempts:
            return None
        return RetryDecision(retry_in={"seconds": self.delay(job.attempts)})


def build_app(
    flask_app: Flask,
    registry: Registry,
    connector: BaseConnector,
    on_failure: FailureHook,
    on_outcome: OutcomeHook | None = None,
) -> procrastinate.App:
    """A procrastinate App on ``connector`` with every task of ``registry`` (periodic ones
    with their cron schedule)."""
    papp = procrastinate.App(connector=connector)
    for spec in registry.values():
        retry = BackoffRetry(spec.retry) if spec.retry.attempts else False
        runner = make_runner(flask_app, spec, on_failure, on_outcome)
        task = papp.task(name=spec.name, queue=spec.queue, retry=retry, pass_context=True)(runner)
        if spec.schedule:
            papp.periodic(cron=spec.schedule, periodic_id=PERIODIC_ID)(task)
    return papp


def make_runner(
    flask_app: Flask,
    spec: TaskSpec,
    on_failure: FailureHook,
    on_outcome: OutcomeHook | None = None,
) -> Callable[..., Any]:
    """The function procrastinate calls for ``spec``: the task inside an app context."""

    def run(context: JobContext, **kwargs: Any) -> Any:
        if on_outcome is not None:
            on_outcome("started")
        with flask_app.app_context():
            try:
                result = spec.func(**spec.call_kwargs(kwargs))
                if inspect.isawaitable(result):
                    result = asyncio.run(_awaited(result))
            except BaseException as exc:
                _safely(on_failure, context.job, exc)
                if on_outcome is not None:
                    on_outcome("failed")
                raise
        if on_outcome is not None:
            on_outcome("succeeded")
        return result

    run.__name__ = run.__qualname__ = spec.name.replace(".", "_")
    run.__module__ = getattr(spec.func, "__module__", __name__)
    return run


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _safely(hook: FailureHook, job: Job, exc: BaseException) -> None:
    """Recording a failure must never hide the failure itself."""
    try:
        hook(job, exc)
    except Exception:
        log.exception("jobs: could not record the failure of job %s", job.id)
