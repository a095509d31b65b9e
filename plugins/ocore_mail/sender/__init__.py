"""Outgoing mail over SMTP with the standard library (no Flask).

TLS modes (``SenderOptions.tls``, from ``SMTP_TLS``)
    ``tls``       implicit TLS from the first byte (``smtplib.SMTP_SSL``), usually port 465.
    ``starttls``  plain connect, then STARTTLS; a server that does not offer it is an error.
    ``none``      never encrypt.
    ``auto``      port 465: implicit TLS; port 587: STARTTLS required; any other port:
                  STARTTLS when the server offers it, otherwise plain (the development sink
                  on 1025 offers none). See ``effective_tls_mode``.

Certificates are checked with ``ssl.create_default_context()`` (system trust store, hostname
checking); ``SenderOptions.ca_file`` adds a PEM bundle of extra trusted CAs (a private CA, or
the throwaway CA of the tests) on top of the system store. ``verify=False`` switches both
checks off (the connection is still encrypted, but not authenticated).

Strict mode (staging, production) never sends credentials over an unencrypted connection:
``InsecureAuthRefused`` is raised before AUTH, so the password never leaves the process.

``SenderOptions.timeout`` is one budget for the whole send: every step gets what is left of it,
so a server that stalls anywhere makes ``send`` fail with ``MailTimeout`` after about
``timeout`` seconds.

``MailSender.probe`` runs the same conversation up to a NOOP (no AUTH, no mail) for health.

Every failure is a ``MailError`` subclass whose message names the step and ``host:port``;
the password is never part of a message or a ``repr``.
"""

from __future__ import annotations

from .addresses import validate_address
from .errors import (
    AuthFailed,
    ConnectionDropped,
    InsecureAuthRefused,
    InvalidAddress,
    InvalidMessage,
    MailError,
    MailTimeout,
    MessageRefused,
    RecipientRefused,
    SenderRefused,
    SMTPConnectError,
    TLSFailed,
)
from .message import OutgoingMessage, build_message
from .options import IMPLICIT_TLS_PORT as IMPLICIT_TLS_PORT
from .options import SUBMISSION_PORT as SUBMISSION_PORT
from .options import TLS_MODES, SenderOptions, TLSMode, effective_tls_mode
from .options import EffectiveTLS as EffectiveTLS
from .results import ProbeResult, SendResult, Trace
from .sender import MailSender

# The "X as X" imports are public too, though not listed below.
__all__ = [
    "TLS_MODES",
    "AuthFailed",
    "SMTPConnectError",
    "ConnectionDropped",
    "InsecureAuthRefused",
    "InvalidAddress",
    "InvalidMessage",
    "MailError",
    "MailSender",
    "SenderOptions",
    "MailTimeout",
    "MessageRefused",
    "OutgoingMessage",
    "ProbeResult",
    "RecipientRefused",
    "SendResult",
    "SenderRefused",
    "TLSFailed",
    "TLSMode",
    "Trace",
    "build_message",
    "effective_tls_mode",
    "validate_address",
]
