"""The mail test kit: real aiosmtpd SMTP servers on 127.0.0.1 and a throwaway CA.

It is a pytest plugin (entry point ``pytest11: ocore_mail``, module
``ocore_mail.testing.plugin``) with the fixtures ``smtp_ca`` (one CA per session),
``smtp_cert`` (a server certificate from it for ``localhost`` and ``127.0.0.1``) and
``smtp_server`` (a running plain SMTP server that records what it receives). Plain helpers::

    from ocore_mail.testing import SMTPTestServer, CertificateAuthority, ServerCertificate
    from ocore_mail.testing import SilentServer, ClosedPort, LOOPBACK, port_is_free

- ``SMTPTestServer``: plain, STARTTLS (optionally required) or implicit TLS, with or without
  AUTH, refusing recipients or dropping the connection at a command; records ``commands``,
  ``auth_attempts`` and ``messages``;
- ``SilentServer``: accepts TCP connections and never says a word (timeouts);
- ``ClosedPort``: a port that is bound but not listening, so connections are refused.

Every server is a context manager (or has ``start``/``stop``). Names load on first use, so
pytest's import of the plugin does not load aiosmtpd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocore_flask.plugin import lazy_exports
from ocore_mail.testing.sockets import (
    LOOPBACK,
    SERVER_NAME,
    ClosedPort,
    SilentServer,
    port_is_free,
)

if TYPE_CHECKING:
    from ocore_mail.testing.certificates import CertificateAuthority, ServerCertificate
    from ocore_mail.testing.server import Command, ReceivedMessage, SMTPTestServer

_LAZY = {
    "CertificateAuthority": "ocore_mail.testing.certificates",
    "ServerCertificate": "ocore_mail.testing.certificates",
    "Command": "ocore_mail.testing.server",
    "ReceivedMessage": "ocore_mail.testing.server",
    "SMTPTestServer": "ocore_mail.testing.server",
}

__all__ = [
    "LOOPBACK",
    "SERVER_NAME",
    "CertificateAuthority",
    "ClosedPort",
    "Command",
    "ReceivedMessage",
    "SMTPTestServer",
    "ServerCertificate",
    "SilentServer",
    "port_is_free",
]


__getattr__ = lazy_exports(__name__, _LAZY)
