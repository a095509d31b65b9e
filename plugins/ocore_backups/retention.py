"""Retention: which stored backups of a policy may go once a newer one succeeded.

A policy keeps its newest ``keep_last`` successful runs and/or every success younger than
``keep_within`` (a run is kept when either rule keeps it); with neither set, everything is
kept. The newest success is never pruned, so pruning only ever follows a newer success.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocore_backups.destination import Destination
    from ocore_backups.policies import Policy
    from ocore_backups.runs import Run, RunStore

log = logging.getLogger("ocore_backups")


def prunable(
    stored: Sequence[Run],
    keep_last: int | None,
    keep_within: timedelta | None,
    now: datetime,
) -> list[Run]:
    """The runs of ``stored`` (one policy's stored successes, any order) retention drops."""
    if keep_last is None and keep_within is None:
        return []
    newest_first = sorted(stored, key=lambda r: (r.finished_at, r.id), reverse=True)
    doomed = []
    for position, run in enumerate(newest_first):
        if position == 0:
            continue  # the last success stays whatever the rules say
        by_count = keep_last is not None and position < keep_last
        assert run.finished_at is not None
        by_age = keep_within is not None and now - run.finished_at <= keep_within
        if not (by_count or by_age):
            doomed.append(run)
    return doomed


def prune(policy: Policy, runs: RunStore, destination: Destination, now: datetime) -> list[int]:
    """Delete the files retention drops and mark their runs pruned; returns their ids. A
    file that cannot be deleted stays recorded (logged, retried on the next prune)."""
    pruned = []
    for run in prunable(runs.stored(policy.id), policy.keep_last, policy.keep_within, now):
        assert run.path is not None
        try:
            destination.delete(run.path)
        except OSError as exc:
            log.warning("backups: could not prune run %s (%s): %s", run.id, run.path, exc)
            continue
        runs.mark_pruned(run.id)
        pruned.append(run.id)
    return pruned
