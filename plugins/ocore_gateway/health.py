"""The ``ssh_gateway`` health section (not critical): the gateway process's heartbeat row.

Off (``SSH_GATEWAY_ENABLED`` false): ``ok`` with ``data.state == "disabled"`` (health has no
status of its own for "switched off", and an unused feature is not a fault). On: the host's
freshness helper rates the newest heartbeat: ``ok`` within 2 intervals, ``degraded`` after,
``fail`` after 3 intervals, when there is none, or when the process said it stopped.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

import ocore_gateway
from ocore_flask.health import CheckResult, HealthContributor, fail, freshness, ok
from ocore_gateway.errors import GatewayError

SECTION = "ssh_gateway"
WARN_BEATS = 2
FAIL_BEATS = 3


def check_gateway() -> CheckResult:
    """One query on the heartbeat table, rated by age."""
    service = ocore_gateway.gateway()
    settings = service.settings
    if not settings.enabled:
        return ok({"state": "disabled", "enabled": False}, message="SSH_GATEWAY_ENABLED is off")
    interval = settings.heartbeat_interval.to_timedelta()
    try:
        beat = service.heartbeats.latest()
    except (SQLAlchemyError, GatewayError) as exc:
        return fail(f"cannot read the heartbeat: {type(exc).__name__}", data={"enabled": True})
    data: dict = {"enabled": True, "listen_address": str(settings.listen)}
    if beat is None:
        return fail("enabled, but no gateway process has ever run (`ocore gateway`)", data=data)
    data.update(
        {
            "instance": beat.instance,
            "listen_address": beat.listen_address,
            "active_sessions": beat.active_sessions,
            "active_connections": beat.active_connections,
            "host_key_fingerprint": beat.host_key_fingerprint,
            "version": beat.version,
            "pid": beat.pid,
        }
    )
    rated = freshness(
        beat.beat_at,
        warn_after=max(interval * WARN_BEATS, timedelta(seconds=1)),
        fail_after=max(interval * FAIL_BEATS, timedelta(seconds=1)),
    )
    data.update({"state": "stale" if rated.status != "ok" else "running", **rated.data})
    if beat.stopped_at is not None:
        data["state"] = "stopped"
        data["stopped_at"] = beat.stopped_at.isoformat()
        return fail("the gateway process stopped", data=data)
    return CheckResult(rated.status, f"heartbeat {rated.message}", data)


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_gateway,
    critical=False,
    timeout=2.0,
    description="SSH gateway: disabled, or its process's heartbeat (listen address, active "
    "sessions, host key fingerprint, version) rated by age.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
