"""Outgoing messages: OutgoingMessage, building the EmailMessage, its envelope and wire form."""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

from .addresses import CONTROL_CHARS, addr_spec, parse_address, reject_controls
from .errors import InvalidAddress, InvalidMessage


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send, its From taken from ``SenderOptions.from_addr``."""

    to: str | Sequence[str]
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None


def _text_cte(body: str) -> str | None:
    # Non-ASCII bodies as quoted-printable keep the message 7-bit clean, so no server
    # needs 8BITMIME; ASCII bodies use the library's own choice.
    return None if body.isascii() else "quoted-printable"


def build_message(
    *,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    from_addr: str,
    reply_to: str | None = None,
) -> EmailMessage:
    """Build a text (optionally text + HTML) message with validated, injection-proof headers."""
    sender = parse_address(from_addr, "From address")
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise InvalidAddress("a message needs at least one To address")
    to_addrs = [parse_address(addr, "To address") for addr in recipients]
    if not isinstance(subject, str):
        raise InvalidMessage(f"Subject must be a string, got {type(subject).__name__}")
    if "\r" in subject or "\n" in subject or CONTROL_CHARS.search(subject):
        raise InvalidMessage(f"Subject must not contain line breaks or controls: {subject!r}")

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to_addrs
    if reply_to is not None:
        msg["Reply-To"] = parse_address(reply_to, "Reply-To address")
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.domain)
    msg.set_content(text, cte=_text_cte(text))
    if html is not None:
        msg.add_alternative(html, subtype="html", cte=_text_cte(html))
    return msg


def envelope(msg: EmailMessage, fallback_sender: str) -> tuple[str, list[str]]:
    """Envelope sender and recipients of a ready message, as ``send_message`` would pick them."""
    senders = msg.get_all("Sender") or msg.get_all("From") or [fallback_sender]
    if len(senders) != 1:
        raise InvalidAddress("a message must have exactly one From (or Sender) header")
    sender = addr_spec(str(senders[0]), "From address")
    fields: list[str] = []
    for name in ("To", "Cc", "Bcc"):
        fields.extend(str(value) for value in msg.get_all(name, []))
    for value in fields:
        reject_controls(value, "recipient header")
    recipients: list[str] = []
    for _name, addr in getaddresses(fields):
        spec = addr_spec(addr, "recipient address")
        if spec not in recipients:
            recipients.append(spec)
    if not recipients:
        raise InvalidAddress("a message needs at least one To, Cc or Bcc address")
    return sender, recipients


def serialise(msg: EmailMessage) -> bytes:
    """The wire form of a message: CRLF line ends, Bcc removed."""
    if "Bcc" in msg or "Resent-Bcc" in msg:
        msg = copy.copy(msg)
        del msg["Bcc"]
        del msg["Resent-Bcc"]
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False).flatten(msg, linesep="\r\n")
    return buffer.getvalue()
