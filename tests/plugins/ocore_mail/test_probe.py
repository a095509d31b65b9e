"""``MailSender.probe``: connect, EHLO, TLS as configured and NOOP, never AUTH, never mail."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ocore_mail.sender import (
    MailSender,
    MailTimeout,
    SenderOptions,
    SMTPConnectError,
    TLSFailed,
)
from ocore_mail.service import MailService
from ocore_mail.testing import LOOPBACK, ClosedPort, SilentServer, SMTPTestServer

USER = "mailer"
PASSWORD = "Sup3r-S3cret-Pa55word!"


def settings(port: int, **overrides: Any) -> SenderOptions:
    values: dict[str, Any] = {
        "host": LOOPBACK,
        "port": port,
        "from_addr": "noreply@example.com",
        "timeout": 5.0,
        "strict": True,
    }
    values.update(overrides)
    return SenderOptions(**values)


def test_probe_plain_server():
    traced: list[str] = []
    with SMTPTestServer() as server:
        result = MailSender(settings(server.port)).probe(trace=lambda s, _: traced.append(s))
    assert result.tls == "none" and result.reply.startswith("250")
    assert server.verbs == ["EHLO", "NOOP", "QUIT"] and server.messages == []
    assert traced == ["connect", "ehlo", "tls", "noop", "done"]


@pytest.mark.parametrize("variant", ["starttls", "implicit"])
def test_probe_with_tls_and_credentials_never_authenticates(smtp_ca, smtp_cert, variant: str):
    tls = "tls" if variant == "implicit" else "starttls"
    with SMTPTestServer(tls=variant, certificate=smtp_cert, users={USER: PASSWORD}) as server:
        config = settings(
            server.port, tls=tls, ca_file=smtp_ca.ca_file, username=USER, password=PASSWORD
        )
        result = MailSender(config).probe()
    assert result.tls == ("implicit" if variant == "implicit" else "starttls")
    assert result.certificate_verified and result.tls_version
    assert "AUTH" not in server.verbs and server.auth_attempts == []


def test_probe_fails_like_send():
    with ClosedPort() as closed, pytest.raises(SMTPConnectError):
        MailSender(settings(closed.port)).probe()
    with SMTPTestServer() as server, pytest.raises(TLSFailed, match="does not offer STARTTLS"):
        MailSender(settings(server.port, tls="starttls")).probe()


def test_service_probe_uses_the_shorter_timeout():
    with SilentServer() as silent:
        service = MailService(settings(silent.port, timeout=10.0))
        started = time.monotonic()
        with pytest.raises(MailTimeout):
            service.probe(0.3)
    assert time.monotonic() - started < 1.5
    assert service.last_send is None  # a probe is not a send
