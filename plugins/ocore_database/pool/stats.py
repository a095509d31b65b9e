"""PoolStat: a snapshot of the pool's counters and gauges, like pgxpool's ``Stat()``."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class PoolStat:
    """A snapshot of the pool, field for field like pgxpool's ``Stat()``."""

    total_conns: int
    idle_conns: int
    acquired_conns: int
    constructing_conns: int
    max_conns: int
    min_conns: int
    acquire_count: int
    acquire_duration_s: float
    empty_acquire_count: int
    canceled_acquire_count: int
    new_conns_count: int
    max_lifetime_destroy_count: int
    max_idle_destroy_count: int

    def to_dict(self) -> dict[str, int | float]:
        """The snapshot as a plain dict, for health payloads and logs."""
        return dataclasses.asdict(self)
