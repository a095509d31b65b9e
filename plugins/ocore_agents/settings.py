"""The agents plugin's settings: the push interval agents are told to use, the smallest gap
allowed between two pushes of one agent, the body limit, and the grace of a rotated token."""

from __future__ import annotations

from ocore_flask.config import (
    Context,
    CrossRule,
    Derived,
    Duration,
    kinds,
    rules,
    section,
    setting,
    settings_of,
)

#: a push body this small cannot carry the required fields; larger is a typo, not a policy
MIN_BODY_BYTES = 1024
MAX_BODY_BYTES = 4 * 1024 * 1024


def _third_of_interval(values: dict) -> str | None:
    interval = values.get("AGENT_PUSH_INTERVAL")
    return str(Duration(interval // 3)) if interval else None


@section
class AgentsSettings:
    """Push interval and rate, body limit, token rotation grace."""

    push_interval: Duration = setting(
        "AGENT_PUSH_INTERVAL",
        kinds.duration(),
        "How often agents push their status (each push answers it in X-Agent-Interval). An "
        "agent is online within 3 intervals of its last push, stale up to 10, offline beyond.",
        default="30s",
        example="30s",
        checks=(rules.duration_between("100ms", "1h"),),
    )

    push_min_interval: Duration = setting(
        "AGENT_PUSH_MIN_INTERVAL",
        kinds.duration(positive=False),
        "Smallest gap between two accepted pushes of one agent; a faster push is answered 429 "
        "with Retry-After (enforced in the database, so across every server process). 0: off.",
        default=Derived("a third of AGENT_PUSH_INTERVAL", _third_of_interval),
        example="10s",
        checks=(rules.duration_between("0s", "30m"),),
    )

    push_max_bytes: int = setting(
        "AGENT_PUSH_MAX_BYTES",
        kinds.integer(MIN_BODY_BYTES, MAX_BODY_BYTES),
        "Largest push body in bytes (by Content-Length and as read); larger is answered 413.",
        default="65536",
        example="65536",
    )

    token_grace: Duration = setting(
        "AGENT_TOKEN_GRACE",
        kinds.duration(positive=False),
        "After `ocore agents rotate-token` the previous token keeps working this long, so the "
        "new one can be rolled out; 0 ends it at once.",
        default="24h",
        example="24h",
        checks=(rules.duration_between("0s", "720h"),),
    )


SETTINGS = settings_of(AgentsSettings)


def _min_below_interval(ctx: Context) -> str | None:
    interval, minimum = ctx.values["AGENT_PUSH_INTERVAL"], ctx.values["AGENT_PUSH_MIN_INTERVAL"]
    if minimum * 2 > interval:
        return (
            f"must be at most half of AGENT_PUSH_INTERVAL ({interval}), or agents pushing on "
            f"time (with jitter) are refused; it is {minimum}"
        )
    return None


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "AGENT_PUSH_MIN_INTERVAL",
        ("AGENT_PUSH_INTERVAL",),
        "<= AGENT_PUSH_INTERVAL / 2",
        _min_below_interval,
    ),
)
