"""The push body: what an agent says about its server, validated before anything is stored
(the view uses ``load_push``: these schemas compiled by ``fastload``, same rules and messages).

Unknown fields are refused (422 naming them), at every level: a misspelt field would otherwise
be silently lost, and an agent newer than the server learns at once that the server needs an
upgrade (upgrade the server before the agents). Figures are JSON numbers (never strings or
booleans), bounded: negative or absurd values are refused with the field named.
"""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
from marshmallow import validate

from ocore_agents.fastload import compile_schema

#: at most this many containers (a larger list is refused 422; the reference agent trims to it)
MAX_CONTAINERS = 500
MAX_DISKS = 64
MAX_BYTES = 2**60  # an exbibyte: more memory or disk than that is a broken reading
MAX_UPTIME_S = 100 * 365 * 86_400
MAX_LOAD = 1_000_000.0
MAX_CPUS = 65_536
CONTAINER_STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")
CONTAINER_HEALTH = ("healthy", "unhealthy", "starting", "none")
_PRINTABLE = validate.Regexp(r"^[^\x00-\x1f\x7f]*\Z", error="must not contain control characters")
_WORD = r"^[^\s\x00-\x1f\x7f]+\Z"  # PostgreSQL text cannot hold NUL; logs want no controls
_TOKEN = validate.Regexp(_WORD, error="must be one word: no spaces or control characters")


class Number(ma.fields.Float):
    """A JSON number (not a string, not a boolean), finite, within ``Range``."""

    fast_number = True  # ``fastload`` converts it the same way

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise ma.ValidationError("must be a finite number")
        return super()._deserialize(value, attr, data, **kwargs)


def _figure(low: float, high: float, **kwargs: Any) -> Number:
    return Number(validate=validate.Range(low, high), **kwargs)


def _count(high: int, low: int = 0, **kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(low, high), **kwargs)


def _memory_within_totals(data: dict[str, Any]) -> None:
    if data["available_bytes"] > data["total_bytes"]:
        raise ma.ValidationError("must not exceed total_bytes", "available_bytes")


def _swap_within_total(data: dict[str, Any]) -> None:
    if data["swap_free_bytes"] > data["swap_total_bytes"]:
        raise ma.ValidationError("must not exceed swap_total_bytes", "swap_free_bytes")


def _disk_within_total(data: dict[str, Any]) -> None:
    if data["free_bytes"] > data["total_bytes"]:
        raise ma.ValidationError("must not exceed total_bytes", "free_bytes")


def _run_checks(checks: tuple[Any, ...], data: dict[str, Any]) -> None:
    """Run every schema-level check, reporting all their problems at once (as ``fastload``)."""
    errors: dict[str, list[str]] = {}
    for check in checks:
        try:
            check(data)
        except ma.ValidationError as exc:
            for field, messages in exc.normalized_messages().items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ma.ValidationError(errors)


class Strict(ma.Schema):
    """Refuse unknown fields (the default of marshmallow, stated)."""

    class Meta:
        unknown = ma.RAISE


class LoadSchema(Strict):
    """Load averages over 1, 5 and 15 minutes (``/proc/loadavg``)."""

    avg1 = _figure(0, MAX_LOAD, required=True)
    avg5 = _figure(0, MAX_LOAD, required=True)
    avg15 = _figure(0, MAX_LOAD, required=True)


class CPUSchema(Strict):
    """Logical CPUs and the share of time busy since the previous reading."""

    count = _count(MAX_CPUS, 1, required=True)
    percent = _figure(0, 100, allow_none=True, load_default=None)


class MemorySchema(Strict):
    """Memory and swap in bytes (``/proc/meminfo``); available cannot exceed total."""

    total_bytes = _count(MAX_BYTES, required=True)
    available_bytes = _count(MAX_BYTES, required=True)
    swap_total_bytes = _count(MAX_BYTES, load_default=0)
    swap_free_bytes = _count(MAX_BYTES, load_default=0)

    checks = (_memory_within_totals, _swap_within_total)

    @ma.validates_schema
    def _checks(self, data: dict[str, Any], **_: Any) -> None:
        _run_checks(self.checks, data)


class DiskSchema(Strict):
    """One mounted filesystem (``statvfs``); free cannot exceed total."""

    path = ma.fields.String(required=True, validate=[validate.Length(1, 1024), _PRINTABLE])
    total_bytes = _count(MAX_BYTES, required=True)
    free_bytes = _count(MAX_BYTES, required=True)

    checks = (_disk_within_total,)

    @ma.validates_schema
    def _checks(self, data: dict[str, Any], **_: Any) -> None:
        _run_checks(self.checks, data)


class ContainerSchema(Strict):
    """One Docker container: its name, state and health check result."""

    name = ma.fields.String(required=True, validate=[validate.Length(1, 255), _TOKEN])
    state = ma.fields.String(required=True, validate=validate.OneOf(CONTAINER_STATES))
    health = ma.fields.String(load_default="none", validate=validate.OneOf(CONTAINER_HEALTH))


class PushSchema(Strict):
    """One status push (``POST /api/agents/push``); only ``version`` and ``hostname`` are
    required, a figure the agent cannot read is left out; ``containers`` absent or null: no
    Docker on that server."""

    version = ma.fields.String(
        required=True,
        validate=[validate.Length(1, 64), _TOKEN],
        metadata={"description": "The agent's version.", "example": "0.1.0"},
    )
    hostname = ma.fields.String(
        required=True,
        validate=[validate.Length(1, 253), _TOKEN],
        metadata={"description": "The server's host name as the agent sees it."},
    )
    uptime_s = _figure(0, MAX_UPTIME_S, metadata={"description": "Seconds since boot."})
    load = ma.fields.Nested(LoadSchema)
    cpu = ma.fields.Nested(CPUSchema)
    memory = ma.fields.Nested(MemorySchema)
    disks = ma.fields.List(
        ma.fields.Nested(DiskSchema), validate=validate.Length(max=MAX_DISKS), load_default=list
    )
    containers = ma.fields.List(
        ma.fields.Nested(ContainerSchema),
        validate=validate.Length(max=MAX_CONTAINERS),
        allow_none=True,
        load_default=None,
        metadata={"description": f"At most {MAX_CONTAINERS}; null or absent: no Docker."},
    )


PUSH_SCHEMA = PushSchema()
#: what the push view validates with: PUSH_SCHEMA's rules, compiled (``fastload``)
load_push = compile_schema(PUSH_SCHEMA)
