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

from ocore_flask.plugin import lazy_exports

# Loaded on first use: the settings module validates addresses with ``.addresses`` alone,
# without pulling in smtplib and ssl for ``ocore config check``.
_EXPORTS = {
    "AuthFailed": "ocore_mail.sender.errors",
    "ConnectionDropped": "ocore_mail.sender.errors",
    "EffectiveTLS": "ocore_mail.sender.options",
    "IMPLICIT_TLS_PORT": "ocore_mail.sender.options",
    "InsecureAuthRefused": "ocore_mail.sender.errors",
    "InvalidAddress": "ocore_mail.sender.errors",
    "InvalidMessage": "ocore_mail.sender.errors",
    "MailError": "ocore_mail.sender.errors",
    "MailSender": "ocore_mail.sender.sender",
    "MailTimeout": "ocore_mail.sender.errors",
    "MessageRefused": "ocore_mail.sender.errors",
    "OutgoingMessage": "ocore_mail.sender.message",
    "ProbeResult": "ocore_mail.sender.results",
    "RecipientRefused": "ocore_mail.sender.errors",
    "SMTPConnectError": "ocore_mail.sender.errors",
    "SUBMISSION_PORT": "ocore_mail.sender.options",
    "SendResult": "ocore_mail.sender.results",
    "SenderOptions": "ocore_mail.sender.options",
    "SenderRefused": "ocore_mail.sender.errors",
    "TLSFailed": "ocore_mail.sender.errors",
    "TLSMode": "ocore_mail.sender.options",
    "TLS_MODES": "ocore_mail.sender.options",
    "Trace": "ocore_mail.sender.results",
    "build_message": "ocore_mail.sender.message",
    "effective_tls_mode": "ocore_mail.sender.options",
    "validate_address": "ocore_mail.sender.addresses",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
