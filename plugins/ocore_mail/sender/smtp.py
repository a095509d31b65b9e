"""smtplib clients that remember the connected host, and small SMTP reply/EHLO helpers."""

from __future__ import annotations

import smtplib
import socket


class SMTPClient(smtplib.SMTP):
    """``smtplib.SMTP`` that remembers the host given to ``connect`` (for SNI and checks)."""

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: object = None
    ) -> tuple[int, bytes]:
        self._host = host  # smtplib only sets it in __init__; STARTTLS verifies against it
        return super().connect(host, port, source_address)


class SMTPSSLClient(smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL`` that remembers the host given to ``connect``."""

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: object = None
    ) -> tuple[int, bytes]:
        self._host = host
        return super().connect(host, port, source_address)


def helo_name(sock: socket.socket) -> str:
    """EHLO name without DNS: the host name if fully qualified, else our address literal."""
    name = socket.gethostname()
    if "." in name and name.isascii() and " " not in name:
        return name
    ip = sock.getsockname()[0]
    return f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"


def reply_text(reply: bytes | str) -> str:
    """An SMTP reply as one line of text (decoded, whitespace collapsed)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
