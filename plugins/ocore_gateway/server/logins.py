"""Who is logging in, to which server, and may they: decided once per connection (in a worker
thread) from the presented key's fingerprint and the SSH user name; and the session limits.

A key that is not registered is refused during authentication. Everything else (a disabled
account, an unknown server, a server the user's role and grants do not reach) is decided at the
same time but applied only after the client proved it holds the key: then the refusal is sent
as the disconnect reason, a clear line the OpenSSH client prints, that only the key's owner sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from ocore_flask.invocation import invoked
from ocore_gateway.store import GrantStore, KeyStore, may_reach

MAX_NAME = 64


@dataclass(frozen=True)
class Login:
    """The key's owner and the target, with the reason the login is refused (None: allowed)."""

    user_id: int
    email: str
    role: str
    key_id: int
    key_fingerprint: str
    target: str
    refusal: str | None = None


def shown(name: str) -> str:
    """A user-supplied name safe for one log or message line (control characters escaped)."""
    return ascii(name[:MAX_NAME])


def username_problem(name: str) -> str | None:
    """What is wrong with an SSH user name as a server name, or None."""
    if not name:
        return "the SSH user name is empty: it names the server, e.g. ssh -p 2222 web1@host"
    if not name.isprintable() or any(c.isspace() for c in name):
        return (
            f"the SSH user name {shown(name)} contains control characters or spaces; it must "
            "be a server name"
        )
    if len(name) > MAX_NAME:
        return f"the SSH user name is longer than {MAX_NAME} characters; it must be a server name"
    return None


def authorize(
    keys: KeyStore, grants: GrantStore, users: Any, servers: Any, username: str, fingerprint: str
) -> Login | None:
    """The login for this key and user name (None: the key is not registered to anyone)."""
    key = keys.find(fingerprint)
    user = users.get(key.user_id) if key is not None else None
    if key is None or user is None:
        return None
    login = Login(user.id, user.email, user.role, key.id, fingerprint, username)
    return replace(login, refusal=_refusal(login, user.disabled, grants, servers))


def _refusal(login: Login, disabled: bool, grants: GrantStore, servers: Any) -> str | None:
    if disabled:
        return f"the account {login.email} is disabled"
    problem = username_problem(login.target)
    if problem:
        return problem
    try:
        server = servers.get(login.target)
    except LookupError:
        return (
            f"there is no server named {shown(login.target)} (the SSH user name names the "
            "server: ssh -p PORT SERVER@host)"
        )
    granted = login.role not in ("admin", "operator") and grants.granted(login.user_id, server.name)
    if not may_reach(login.role, granted):
        return (
            f"{login.email} ({login.role}) may not reach server {server.name!r}; an admin can "
            f"grant it: `{invoked(f'gateway grant {login.email} {server.name}')}`"
        )
    return None


class Registry:
    """The open connections and sessions of this process, and the session limits."""

    def __init__(self, max_sessions: int, max_per_user: int) -> None:
        """Limits from SSH_GATEWAY_MAX_SESSIONS and SSH_GATEWAY_MAX_SESSIONS_PER_USER."""
        self.max_sessions = max_sessions
        self.max_per_user = max_per_user
        self.connections: set[Any] = set()
        self.per_user: Counter[int] = Counter()

    def __repr__(self) -> str:
        return f"<Registry connections={len(self.connections)} sessions={self.sessions}>"

    @property
    def sessions(self) -> int:
        """Sessions open now, all users together."""
        return sum(self.per_user.values())

    def reserve(self, login: Login) -> str | None:
        """Count a new session of ``login``'s user, or say which limit refuses it."""
        if self.sessions >= self.max_sessions:
            return (
                f"the gateway is at its limit of {self.max_sessions} open sessions "
                "(SSH_GATEWAY_MAX_SESSIONS); try again later"
            )
        if self.per_user[login.user_id] >= self.max_per_user:
            return (
                f"{login.email} already has {self.per_user[login.user_id]} open sessions, the "
                f"limit per user (SSH_GATEWAY_MAX_SESSIONS_PER_USER); close one first"
            )
        self.per_user[login.user_id] += 1
        return None

    def release(self, login: Login) -> None:
        """A session of ``login``'s user ended."""
        self.per_user[login.user_id] -= 1
        if self.per_user[login.user_id] <= 0:
            del self.per_user[login.user_id]
