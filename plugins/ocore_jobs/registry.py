"""The tasks the active plugins offer (their ``tasks()`` hook), checked once at startup.

Each ``ocore_flask.tasks.Task`` becomes a ``TaskSpec`` named ``<plugin>.<name>``. Every problem
is collected and reported in one startup error: a short name two plugins both use (the host's
rule, as ``ocore plugins list`` reports it, naming both owners), a name or queue that is not an
identifier, a retry policy out of range, a cron schedule that does not parse (naming the task),
a periodic task whose function needs arguments.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ocore_flask.manager import PluginManager
from ocore_flask.redact import Scrubber
from ocore_flask.tasks import Retry, Task
from ocore_jobs.errors import BadArguments, TaskProblems, UnknownTask
from ocore_jobs.settings import QUEUE_RE, QUEUE_RULE

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_ATTEMPTS = 100
#: the argument procrastinate passes every periodic job (the tick's Unix time)
TIMESTAMP = "timestamp"
CRON_HELP = (
    "5 fields (minute hour day-of-month month day-of-week, e.g. '*/5 * * * *'), or 6 with "
    "seconds last"
)


@dataclass(frozen=True)
class TaskSpec:
    """One registered task: its namespaced name, owner, callable, queue, retry and schedule."""

    name: str
    owner: str
    func: Callable[..., Any]
    queue: str
    retry: Retry
    schedule: str | None

    @cached_property
    def signature(self) -> inspect.Signature | None:
        """The callable's signature (None for a builtin that hides it)."""
        try:
            return inspect.signature(self.func)
        except (TypeError, ValueError):
            return None

    def takes(self, name: str) -> bool:
        """Whether the callable accepts keyword ``name``."""
        signature = self.signature
        if signature is None:
            return True
        params = signature.parameters.values()
        return name in signature.parameters or any(p.kind is p.VAR_KEYWORD for p in params)

    def call_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The stored arguments as the callable takes them: a periodic job's ``timestamp`` is
        dropped unless the function asks for it."""
        found = dict(kwargs)
        if self.schedule and TIMESTAMP in found and not self.takes(TIMESTAMP):
            del found[TIMESTAMP]
        return found

    def usage(self) -> str:
        """``name(a, b=1)``: how the task is called, for error messages and listings."""
        signature = self.signature
        return f"{self.name}{signature}" if signature is not None else f"{self.name}(...)"

    def check_args(self, args: Mapping[str, Any], scrubber: Scrubber) -> dict[str, Any]:
        """The arguments as stored: a JSON object of what the function takes, without any
        secret (a job's arguments sit in the database in clear and show in ``jobs show``)."""
        if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
            raise BadArguments(f"the arguments of {self.name} must be a JSON object")
        try:
            stored = json.loads(json.dumps(dict(args), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise BadArguments(f"the arguments of {self.name} are not JSON: {exc}") from None
        if scrubber.scrub(stored) != stored:
            raise BadArguments(
                f"the arguments of {self.name} contain a secret (a secret-named key, a "
                "configured secret or a credential-shaped value); job arguments are stored and "
                "shown in clear: pass a reference instead, e.g. a vault credential name"
            )
        signature = self.signature
        if signature is not None:
            try:
                signature.bind(**stored)
            except TypeError as exc:
                raise BadArguments(
                    f"{self.name} does not take these arguments ({exc}); it is {self.usage()}"
                ) from None
        return stored

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (``jobs status``, tests)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "queue": self.queue,
            "schedule": self.schedule,
            "retry": {
                "attempts": self.retry.attempts,
                "wait": self.retry.wait,
                "backoff": self.retry.backoff,
            },
        }


class Registry(Mapping[str, TaskSpec]):
    """The app's tasks by namespaced name."""

    def __init__(self, specs: Mapping[str, TaskSpec]) -> None:
        self._specs = dict(specs)

    def __getitem__(self, name: str) -> TaskSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"<Registry {', '.join(self._specs) or 'empty'}>"

    def get_task(self, name: str) -> TaskSpec:
        """The task called ``name``, or UnknownTask with the nearest names."""
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownTask(name, self._specs) from None


def collect(manager: PluginManager) -> Registry:
    """Every active plugin's tasks, namespaced and checked; TaskProblems lists what is wrong."""
    before = len(manager.problems)
    offered = manager.collect("tasks")
    problems = [problem.message for problem in manager.problems[before:]]
    specs: dict[str, TaskSpec] = {}
    for owner, item in offered:
        if not isinstance(item, Task):
            problems.append(
                f"plugin {owner}: tasks() must return ocore_flask.tasks.Task items, not "
                f"{type(item).__name__}"
            )
            continue
        found = task_problems(owner, item)
        if found:
            problems += found
            continue
        spec = TaskSpec(
            f"{owner}.{item.name}", owner, item.func, item.queue, item.retry, item.schedule
        )
        specs[spec.name] = spec
    if problems:
        raise TaskProblems("; ".join(problems))
    return Registry(specs)


def task_problems(owner: str, task: Task) -> list[str]:
    """What is wrong with one offered task (empty when nothing)."""
    where = f"task {owner}.{task.name}" if isinstance(task.name, str) else f"a task of {owner}"
    found = []
    if not isinstance(task.name, str) or not NAME_RE.fullmatch(task.name):
        found.append(
            f"{where}: the name must be a lowercase identifier of up to 64 characters "
            f"([a-z][a-z0-9_]*); the plugin name ({owner}.) is added by the queue"
        )
    if not callable(task.func):
        found.append(f"{where}: func must be callable")
    if not isinstance(task.queue, str) or not QUEUE_RE.fullmatch(task.queue):
        found.append(f"{where}: queue {task.queue!r} is not a queue name ({QUEUE_RULE})")
    found += _retry_problems(where, task.retry)
    if task.schedule is not None:
        found += _schedule_problems(where, task)
    return found


def _retry_problems(where: str, retry: object) -> list[str]:
    if not isinstance(retry, Retry):
        return [f"{where}: retry must be an ocore_flask.tasks.Retry"]
    found = []
    attempts = retry.attempts
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        found.append(f"{where}: retry attempts must be a whole number")
    elif not 0 <= attempts <= MAX_ATTEMPTS:
        found.append(f"{where}: retry attempts must be from 0 to {MAX_ATTEMPTS}")
    if not _number(retry.wait) or retry.wait < 0:
        found.append(f"{where}: retry wait must be a number of seconds >= 0")
    if not _number(retry.backoff) or retry.backoff < 1:
        found.append(f"{where}: retry backoff must be a number >= 1")
    return found


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _schedule_problems(where: str, task: Task) -> list[str]:
    from croniter import croniter  # procrastinate's own cron parser; loaded only for schedules

    schedule = task.schedule
    if not isinstance(schedule, str) or not croniter.is_valid(schedule):
        return [f"{where}: schedule {schedule!r} is not a cron expression: {CRON_HELP}"]
    spec = TaskSpec(task.name, "", task.func, task.queue, task.retry, schedule)
    signature = spec.signature if callable(task.func) else None
    required = [
        name
        for name, param in (signature.parameters.items() if signature else ())
        if param.default is param.empty
        and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        and name != TIMESTAMP
    ]
    if required:
        return [
            f"{where}: a periodic task is called without arguments, but its function needs "
            f"{', '.join(required)}"
        ]
    return []
