"""Login throttling per account and per client address, shared by every worker process.

Each key (``account:<email>``, ``address:<ip>``) counts failed logins. Past the free attempts
(``AUTH_LOGIN_FREE_ATTEMPTS`` per account, four times that per address) every failure blocks
the key for a doubling delay, 1s, 2s, 4s… up to ``AUTH_LOGIN_MAX_DELAY``; a login on a blocked
key is answered 429 with ``Retry-After`` before any password work. A success clears the
account's counter (never the address's: one good account must not reset an attacker's address).
A counter with no failure for ``FORGET_AFTER`` (or twice the longest delay) starts over. Unknown
addresses are throttled exactly like known ones, so the throttle tells nothing either.

The counter and the block are one upsert per key, in PostgreSQL: correct across workers.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, bindparam, text

FORGET_AFTER = timedelta(hours=1)
ADDRESS_FACTOR = 4

_FAIL = text(
    """
    INSERT INTO auth_throttle AS t (key, failures, last_failure_at, blocked_until)
    VALUES (:key, 1, now(), CASE WHEN :free < 1 THEN now() + interval '1 second' END)
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN t.last_failure_at < now() - :forget THEN 1 ELSE t.failures + 1 END,
        last_failure_at = now(),
        blocked_until = CASE
            WHEN t.last_failure_at < now() - :forget THEN NULL
            WHEN t.failures + 1 > :free THEN now() + least(
                :max_delay, interval '1 second' * power(2, least(t.failures + 1 - :free - 1, 30))
            )
            ELSE t.blocked_until
        END
    """
)

_BLOCKED = text(
    "SELECT ceil(extract(epoch FROM max(blocked_until) - now()))::int FROM auth_throttle"
    " WHERE key IN :keys AND blocked_until > now()"
).bindparams(bindparam("keys", expanding=True))


def account_key(email: str) -> str:
    """The throttle key of an e-mail address (case-insensitive, bounded)."""
    return "account:" + email.strip().lower()[:254]


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return "address:" + (address or "unknown")[:64]


class Throttle:
    """Failed-login counters with growing delays."""

    def __init__(self, engine: Engine, free: int, max_delay: timedelta) -> None:
        self.engine = engine
        self.free = free
        self.max_delay = max_delay
        self.forget = max(FORGET_AFTER, 2 * max_delay)

    def retry_after(self, email: str | None, address: str | None) -> int:
        """Seconds until a login for this account (None: any, e.g. a passkey login) from this
        address may be tried (0: now)."""
        keys = [address_key(address)] + ([account_key(email)] if email is not None else [])
        with self.engine.connect() as conn:
            wait = conn.execute(_BLOCKED, {"keys": keys}).scalar()
        return int(wait or 0)

    def failed(self, email: str | None, address: str | None) -> None:
        """Count a failed login against the account (when known) and the address."""
        common = {"forget": self.forget, "max_delay": self.max_delay}
        with self.engine.begin() as conn:
            if email is not None:
                conn.execute(_FAIL, {"key": account_key(email), "free": self.free, **common})
            conn.execute(
                _FAIL,
                {"key": address_key(address), "free": self.free * ADDRESS_FACTOR, **common},
            )

    def succeeded(self, email: str) -> None:
        """Forget the account's failures after a good login."""
        with self.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM auth_throttle WHERE key = :key"), {"key": account_key(email)}
            )
