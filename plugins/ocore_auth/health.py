"""The ``auth`` health section (not critical): users, enabled admins and live sessions, from one
cheap query. ``degraded`` when no enabled admin exists: nobody could manage users through the
API, and the fix is one command (``ocore users add EMAIL --role admin``)."""

from __future__ import annotations

import ocore_auth
from ocore_flask.health import CheckResult, HealthContributor, degraded, fail, ok

SECTION = "auth"
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE: migrations not applied


def check_auth() -> CheckResult:
    """Counts of users, enabled admins and active refresh families; ``fail`` (not an
    exception) when the database cannot answer."""
    try:
        counts = ocore_auth.auth().users.counts()
    except Exception as exc:  # the database section says why; this one says what it means
        if getattr(getattr(exc, "orig", None), "pgcode", None) == UNDEFINED_TABLE:
            return fail("the auth tables are missing: run `ocore db upgrade`")
        return fail(f"cannot count users: the database did not answer ({type(exc).__name__})")
    data = {
        "users": counts["users"],
        "admins": counts["admins"],
        "active_sessions": counts["sessions"],
    }
    if counts["admins"] == 0:
        return degraded(
            "no enabled admin: create one with `ocore users add EMAIL --role admin`", data=data
        )
    return ok(data)


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_auth,
    critical=False,
    timeout=1.0,
    description="Auth: users, enabled admins and active sessions; degraded without an admin.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
