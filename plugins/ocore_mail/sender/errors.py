"""The MailError hierarchy: every mail failure, naming the step and server to act on."""

from __future__ import annotations

from collections.abc import Sequence


class MailError(Exception):
    """Base of every mail failure; the message names the step and server to act on."""

    def __init__(
        self,
        detail: str,
        *,
        step: str | None = None,
        host: str | None = None,
        port: int | None = None,
        code: int | None = None,
    ) -> None:
        self.detail = detail
        self.step = step
        self.host = host
        self.port = port
        self.code = code
        super().__init__(self._format())

    def _format(self) -> str:
        if self.step and self.host is not None:
            return f"SMTP {self.step} failed on {self.host}:{self.port}: {self.detail}"
        if self.step:
            return f"SMTP {self.step} failed: {self.detail}"
        return self.detail


class SMTPConnectError(MailError):
    """The server could not be reached: DNS failure, refused or unreachable."""


class TLSFailed(MailError):
    """TLS could not be established: untrusted certificate, handshake, STARTTLS missing."""


class AuthFailed(MailError):
    """The server rejected the credentials or offers no usable AUTH mechanism."""


class InsecureAuthRefused(MailError):
    """Strict mode refused to send credentials over an unencrypted connection."""


class SenderRefused(MailError):
    """The server rejected the envelope sender (MAIL FROM)."""


class RecipientRefused(MailError):
    """The server rejected one or more recipients; nothing was sent."""

    def __init__(
        self,
        detail: str,
        *,
        refused: dict[str, tuple[int, str]],
        accepted: Sequence[str] = (),
        step: str | None = None,
        host: str | None = None,
        port: int | None = None,
        code: int | None = None,
    ) -> None:
        self.refused = dict(refused)
        self.accepted = tuple(accepted)
        super().__init__(detail, step=step, host=host, port=port, code=code)


class MessageRefused(MailError):
    """The server rejected the message content at DATA (size, policy, spam...)."""


class ConnectionDropped(MailError):
    """The server closed or reset the connection in the middle of the session."""


class MailTimeout(MailError):
    """The send did not complete within ``SenderOptions.timeout``."""


class InvalidMessage(MailError, ValueError):
    """A header value is unusable (line breaks, control characters, missing field)."""


class InvalidAddress(InvalidMessage):
    """An e-mail address is malformed or could smuggle extra headers."""
