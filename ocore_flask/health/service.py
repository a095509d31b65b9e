"""The health service of one app: the runner, the accepted tokens, and the rich payload."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ocore_flask.config.loader import Config
from ocore_flask.health.contributor import HealthContributor, isoformat_utc
from ocore_flask.health.runner import HealthReport, HealthRunner

BUILD_COMMIT_FILE = Path(__file__).resolve().parent.parent / "BUILD_COMMIT"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class TokenCheck:
    """Accepts the current or the previous token; compares fixed-size digests in constant time."""

    def __init__(self, *tokens: str | None) -> None:
        self._digests = [_digest(t) for t in tokens if t]

    @property
    def enabled(self) -> bool:
        """False when no token is configured: the rich view is off."""
        return bool(self._digests)

    def accepts(self, presented: str) -> bool:
        """Whether ``presented`` equals a configured token (every digest is always compared)."""
        if not presented:
            return False
        # WSGI headers are latin-1 decoded bytes; re-encode to compare the bytes that were sent.
        try:
            raw = presented.encode("latin-1")
        except UnicodeEncodeError:
            raw = presented.encode("utf-8", "surrogateescape")
        candidate = hashlib.sha256(raw).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(candidate, digest)
        return matched


def app_version() -> str:
    """The installed distribution's version."""
    try:
        return version("ocore-flask")
    except PackageNotFoundError:
        return "0+unknown"


def build_commit(config: Config) -> str:
    """OCORE_COMMIT if set, else the commit baked in at build time, else ``unknown``."""
    if config.plain("OCORE_COMMIT"):
        return str(config.plain("OCORE_COMMIT"))
    try:
        return BUILD_COMMIT_FILE.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


class HealthService:
    """Everything ``/api/health`` and ``ocore health`` need, built once per app."""

    def __init__(self, config: Config, contributors: list[HealthContributor], context: Any) -> None:
        cap = config.plain("HEALTH_TIMEOUT").seconds
        capped = [dataclasses.replace(c, timeout=min(c.timeout, cap)) for c in contributors]
        self.runner = HealthRunner(
            capped,
            cache_ttl=max(config.plain("HEALTH_CACHE_TTL").seconds, 0.0),
            secrets=config.secret_values,
            context=context,
        )
        self.tokens = TokenCheck(
            config.plain("HEALTH_CHECK_TOKEN"), config.plain("HEALTH_CHECK_TOKEN_PREVIOUS")
        )
        self.version = app_version()
        self.commit = build_commit(config)
        self.environment = config.mode.value
        self.started_at = datetime.now(UTC)

    def rich(self) -> tuple[dict[str, Any], int]:
        """Run the checks; the payload and its HTTP status (503 when a critical check fails)."""
        report: HealthReport = self.runner.run()
        now = datetime.now(UTC)
        body = report.to_dict()
        payload = {
            "status": body["status"],
            "version": self.version,
            "commit": self.commit,
            "environment": self.environment,
            "started_at": isoformat_utc(self.started_at),
            "uptime_s": round((now - self.started_at).total_seconds(), 3),
            "checked_at": body["checked_at"],
            "duration_ms": body["duration_ms"],
            "checks": body["checks"],
        }
        return payload, report.http_status

    def close(self) -> None:
        """Stop the runner's threads."""
        self.runner.close()
