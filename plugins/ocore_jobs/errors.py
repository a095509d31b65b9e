"""What the jobs plugin refuses: unknown tasks, bad arguments, jobs that are not there or not in
a state the operation needs. Messages are one line, name the fix, and never quote a secret."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ocore_flask.invocation import invoked


class JobsError(Exception):
    """A job queue operation was refused."""


class UnknownTask(JobsError, LookupError):
    """No active plugin offers a task by that name."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = sorted(known)
        near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        listed = ", ".join(names) or "none"
        super().__init__(f"no task named {name!r}{hint} (tasks: {listed})")
        self.name = name


class BadArguments(JobsError, ValueError):
    """The arguments are not a JSON object, not what the task takes, or carry a secret."""


class JobNotFound(JobsError, LookupError):
    """No job has that id (or it was purged)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            f"no job with id {job_id} (succeeded jobs are deleted after JOBS_RETENTION); "
            f"`{invoked('jobs list')}` shows the jobs"
        )
        self.job_id = job_id


class JobStateError(JobsError):
    """The job exists but is not in a state the operation applies to."""


class JobsNotMigrated(JobsError):
    """The job tables do not exist yet."""

    def __init__(self) -> None:
        super().__init__(f"the job queue tables do not exist; run `{invoked('db upgrade')}` first")


class TaskProblems(JobsError):
    """Tasks offered by plugins that cannot be registered (a startup error)."""
