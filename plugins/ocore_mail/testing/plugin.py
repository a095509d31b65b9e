"""The ``ocore_mail`` pytest plugin (entry point ``pytest11``): a CA and SMTP servers.

pytest imports this module at startup in every run; aiosmtpd and cryptography load in the
fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ocore_mail.testing.certificates import CertificateAuthority, ServerCertificate
    from ocore_mail.testing.server import SMTPTestServer


@pytest.fixture(scope="session")
def smtp_ca() -> Iterator[CertificateAuthority]:
    """A throwaway certificate authority for the session; ``smtp_ca.ca_file`` is its PEM."""
    from ocore_mail.testing.certificates import CertificateAuthority

    with CertificateAuthority() as authority:
        yield authority


@pytest.fixture(scope="session")
def smtp_cert(smtp_ca: CertificateAuthority) -> ServerCertificate:
    """A server certificate from ``smtp_ca`` for ``localhost`` and ``127.0.0.1``."""
    return smtp_ca.issue()


@pytest.fixture
def smtp_server() -> Iterator[SMTPTestServer]:
    """A running plain SMTP server on 127.0.0.1 (no TLS, no AUTH) that records every command
    and message it receives; ``smtp_server.port`` is its ephemeral port."""
    from ocore_mail.testing.server import SMTPTestServer

    with SMTPTestServer() as server:
        yield server
