"""The mail service in a real app: built from the settings, sending to real aiosmtpd servers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ocore_mail import mailer
from ocore_mail.sender import (
    InsecureAuthRefused,
    InvalidAddress,
    RecipientRefused,
    SenderOptions,
    SMTPConnectError,
)
from ocore_mail.service import MailService, send_mail
from ocore_mail.testing import LOOPBACK, ClosedPort, SMTPTestServer

USER = "mailer"
PASSWORD = "Sup3r-S3cret-Pa55word!"


def test_init_app_builds_the_service_from_the_settings(mail_app, mail_env, smtp_ca):
    app = mail_app(
        mail_env(
            2525,
            ENVIRONMENT="production",
            APP_URL="https://ocore.example.com",
            SMTP_FROM="oCore <noreply@example.com>",
            SMTP_USERNAME=USER,
            SMTP_PASSWORD=PASSWORD,
            SMTP_TLS="starttls",
            SMTP_CA_FILE=smtp_ca.ca_file,
            SMTP_TIMEOUT="1500ms",
            SMTP_HEALTH_PROBE="true",
        )
    )
    service = mailer(app)
    assert isinstance(service, MailService) and service is mailer(app)
    assert service.options == SenderOptions(
        host=LOOPBACK,
        port=2525,
        from_addr="oCore <noreply@example.com>",
        username=USER,
        password=PASSWORD,
        tls="starttls",
        verify=True,
        timeout=1.5,
        strict=True,
        ca_file=str(smtp_ca.ca_file),
    )
    assert service.probe_enabled
    assert PASSWORD not in repr(service)


def test_development_mode_is_not_strict(mail_app, mail_env):
    service = mailer(mail_app(mail_env(2525)))
    assert service.options.strict is False and service.probe_enabled is False


def test_send_mail_delivers_both_parts_and_records_the_outcome(mail_app, mail_env):
    with SMTPTestServer() as server:
        app = mail_app(mail_env(server.port, SMTP_FROM="oCore <noreply@example.com>"))
        assert mailer(app).last_send is None
        before = datetime.now(UTC)
        with app.app_context():
            result = send_mail("alice@example.com", "Welcome", "Hi Alice", "<p>Hi <b>Alice</b></p>")
    assert result.accepted == ("alice@example.com",)
    (received,) = server.messages
    message = received.parsed()
    assert message["Subject"] == "Welcome" and message["To"] == "alice@example.com"
    assert message["From"] == "oCore <noreply@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content().strip() == "Hi Alice"
    assert html.get_content_type() == "text/html" and "<b>Alice</b>" in html.get_content()
    last = mailer(app).last_send
    assert last is not None and last.outcome == "sent" and last.error is None
    assert before <= last.at <= datetime.now(UTC)
    assert mailer(app).counts == {"sent": 1, "refused": 0, "failed": 0}


def test_a_server_failure_is_raised_and_recorded_as_failed(mail_app, mail_env):
    with ClosedPort() as closed:
        app = mail_app(mail_env(closed.port))
        with app.app_context(), pytest.raises(SMTPConnectError) as info:
            send_mail("alice@example.com", "Hi", "text")
    assert f"{LOOPBACK}:{closed.port}" in str(info.value)
    last = mailer(app).last_send
    assert last.outcome == "failed" and last.error == "SMTPConnectError" and last.step == "connect"
    assert "connection refused" in last.message
    assert last.to_dict()["message"] == last.message


def test_a_refused_recipient_is_recorded_without_the_address(mail_app, mail_env):
    with SMTPTestServer(refuse=["ghost@example.com"]) as server:
        app = mail_app(mail_env(server.port))
        with pytest.raises(RecipientRefused):
            mailer(app).send(["ghost@example.com", "alice@example.com"], "Hi", "text")
    assert server.messages == []
    last = mailer(app).last_send
    assert last.outcome == "refused" and last.error == "RecipientRefused"
    assert "ghost" not in str(last.to_dict()) and "1 recipient(s) refused" in last.message


def test_invalid_input_raises_before_connecting_and_is_not_recorded(mail_app, mail_env):
    with SMTPTestServer() as server:
        app = mail_app(mail_env(server.port))
        service = mailer(app)
        with pytest.raises(InvalidAddress):
            service.send("alice@example.com\r\nBcc: eve@example.com", "Hi", "text")
        with pytest.raises(InvalidAddress):
            service.send("alice", "Hi", "text")
    assert server.commands == []
    assert service.last_send is None


def test_strict_mode_never_sends_the_password_unencrypted(mail_app, mail_env):
    with SMTPTestServer(users={USER: PASSWORD}, auth_require_tls=False) as server:
        app = mail_app(
            mail_env(
                server.port,
                ENVIRONMENT="staging",
                APP_URL="https://ocore.example.com",
                SMTP_FROM="noreply@example.com",
                SMTP_USERNAME=USER,
                SMTP_PASSWORD=PASSWORD,
            )
        )
        with pytest.raises(InsecureAuthRefused) as info:
            mailer(app).send("alice@example.com", "Hi", "text")
    assert server.auth_attempts == [] and "AUTH" not in server.verbs
    assert PASSWORD not in str(info.value)
    assert mailer(app).last_send.outcome == "failed"


def test_starttls_with_a_private_ca_and_auth_through_the_app(
    mail_app, mail_env, smtp_ca, smtp_cert
):
    with SMTPTestServer(
        tls="starttls", certificate=smtp_cert, require_starttls=True, users={USER: PASSWORD}
    ) as server:
        app = mail_app(
            mail_env(
                server.port,
                ENVIRONMENT="production",
                APP_URL="https://ocore.example.com",
                SMTP_FROM="noreply@example.com",
                SMTP_USERNAME=USER,
                SMTP_PASSWORD=PASSWORD,
                SMTP_CA_FILE=smtp_ca.ca_file,
            )
        )
        result = mailer(app).send("alice@example.com", "Hi", "text")
    assert result.tls == "starttls" and result.certificate_verified
    (received,) = server.messages
    assert received.encrypted and received.authenticated_as == USER


def test_concurrent_sends_are_all_delivered_and_counted(mail_app, mail_env):
    with SMTPTestServer() as server:
        app = mail_app(mail_env(server.port))
        service = mailer(app)
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                service.send(f"user{n}@example.com", f"message {n}", "text")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert len(server.messages) == 8
    assert service.counts == {"sent": 8, "refused": 0, "failed": 0}
    assert service.last_send.outcome == "sent"
