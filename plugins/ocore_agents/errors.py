"""The agents plugin's errors: each carries the HTTP status an API answer needs and a message
safe to show (never a token or its hash)."""

from __future__ import annotations


class AgentError(Exception):
    """Base of the plugin's errors; ``status`` is the HTTP status of the API answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AgentNotFound(AgentError, LookupError):
    """No agent (or no server) by that name."""

    status = 404


class AgentExists(AgentError):
    """``add`` for a server whose agent is registered and not revoked."""

    status = 409


class AgentRevoked(AgentError):
    """The agent is revoked: its token cannot be rotated (register it again with ``add``)."""

    status = 409


class AgentsNotMigrated(AgentError):
    """The agents table does not exist yet."""

    status = 503
