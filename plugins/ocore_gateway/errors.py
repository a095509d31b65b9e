"""The gateway plugin's errors: each carries the HTTP status of its API answer and a message
safe to show (never a key's private half, never a credential)."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of the gateway's errors; ``status`` for the API answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidKey(GatewayError, ValueError):
    """A public key that is not acceptable (garbage, wrong type, weak RSA…)."""

    status = 422


class KeyExists(GatewayError):
    """The key is registered already (for this user or another)."""

    status = 409


class KeyNotFound(GatewayError, LookupError):
    """No registered key has that id (for this user)."""

    status = 404


class GrantError(GatewayError):
    """A grant that makes no sense (the user reaches every server anyway)."""

    status = 409


class HostKeyError(GatewayError):
    """The gateway's host key cannot be created or read."""

    status = 500


class GatewayDisabled(GatewayError):
    """``ocore gateway`` while SSH_GATEWAY_ENABLED is off."""
