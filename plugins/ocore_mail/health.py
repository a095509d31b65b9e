"""The ``mail`` health section (not critical): where mail goes, the last send, an optional probe.

Without ``SMTP_HEALTH_PROBE`` the check does no I/O. With it, the check connects to the server
(EHLO, TLS as configured, NOOP; never AUTH) on every run the health cache lets through. The
probe gets ``SMTP_TIMEOUT`` but at most 80 % of the section's own limit, so a slow server is
reported by the probe as ``degraded`` rather than cut off by the runner as ``fail``.
"""

from __future__ import annotations

from typing import Any

import ocore_mail
from ocore_flask.health import CheckResult, HealthContributor, degraded, ok
from ocore_flask.settings import HostSettings
from ocore_flask.state import get_state
from ocore_mail.sender import MailError
from ocore_mail.settings import MailSettings

SECTION = "mail"
TIMEOUT = 10.0  # declared limit; the host caps it at HEALTH_TIMEOUT
PROBE_SHARE = 0.8


def probe_budget() -> float:
    """Seconds a probe may take: SMTP_TIMEOUT within the section's effective time limit."""
    config = get_state().config
    limit = min(TIMEOUT, config.section(HostSettings).health_timeout.seconds)
    return min(config.section(MailSettings).timeout.seconds, limit * PROBE_SHARE)


def check_mail() -> CheckResult:
    """Server, TLS mode and last send; degraded while the last send failed or the probe fails."""
    service = ocore_mail.mailer()
    data: dict[str, Any] = service.describe()
    last = service.last_send
    data["last_send"] = last.to_dict() if last else None
    data["sends"] = service.counts
    problems = []
    if last is not None and last.outcome == "failed":
        problems.append(f"last send failed: {last.message}")
    if service.probe_enabled:
        try:
            found = service.probe(probe_budget())
        except MailError as exc:
            data["probe"] = {"status": "failed", "error": type(exc).__name__, "message": str(exc)}
            problems.insert(0, f"probe failed: {exc}")
        else:
            data["probe"] = {
                "status": "ok",
                "tls": found.tls,
                "tls_version": found.tls_version,
                "certificate_verified": found.certificate_verified,
                "elapsed_ms": round(found.elapsed * 1000, 1),
            }
    else:
        data["probe"] = None
    if problems:
        return degraded("; ".join(problems), data=data)
    return ok(data)


CONTRIBUTOR = HealthContributor(
    SECTION,
    check_mail,
    critical=False,
    timeout=TIMEOUT,
    description="SMTP server, TLS mode, last send; with SMTP_HEALTH_PROBE a connect + NOOP.",
)


def contributors() -> list[HealthContributor]:
    """The ``health_contributors`` hook."""
    return [CONTRIBUTOR]
