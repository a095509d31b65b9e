"""The SMTP sender against real aiosmtpd servers on loopback: TLS modes, auth, failures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from ocore_mail.sender import (
    AuthFailed,
    ConnectionDropped,
    InsecureAuthRefused,
    InvalidAddress,
    InvalidMessage,
    MailError,
    MailSender,
    MailTimeout,
    OutgoingMessage,
    RecipientRefused,
    SenderOptions,
    SenderRefused,
    SMTPConnectError,
    TLSFailed,
    build_message,
    effective_tls_mode,
    validate_address,
)
from ocore_mail.testing import (
    LOOPBACK,
    CertificateAuthority,
    ClosedPort,
    ServerCertificate,
    SilentServer,
    SMTPTestServer,
    port_is_free,
)

FROM = "oCore <noreply@ocore.local>"
TO = "alice@example.com"
USER = "mailer"
PASSWORD = "Sup3r-S3cret-Pa55word!"


@pytest.fixture(scope="module")
def foreign_cert() -> Iterator[ServerCertificate]:
    """A certificate for the right names, from a CA nobody trusts."""
    with CertificateAuthority("untrusted CA") as other:
        yield other.issue()


def settings(
    port: int = 25, smtp_ca: CertificateAuthority | None = None, **overrides: Any
) -> SenderOptions:
    values: dict[str, Any] = {
        "host": LOOPBACK,
        "port": port,
        "from_addr": FROM,
        "timeout": 5.0,
        "strict": True,
        "ca_file": smtp_ca.ca_file if smtp_ca else None,
    }
    values.update(overrides)
    return SenderOptions(**values)


def message(**overrides: Any) -> OutgoingMessage:
    values: dict[str, Any] = {"to": TO, "subject": "Hello", "text": "Hi Alice"}
    values.update(overrides)
    return OutgoingMessage(**values)


def send(config: SenderOptions, msg: OutgoingMessage | EmailMessage | None = None, **kw: Any):
    return MailSender(config).send(msg if msg is not None else message(), **kw)


# --------------------------------------------------------------------------- TLS modes


@pytest.mark.parametrize(
    ("tls", "port", "expected"),
    [
        ("auto", 465, "implicit"),
        ("auto", 587, "starttls"),
        ("auto", 25, "opportunistic"),
        ("auto", 1025, "opportunistic"),
        ("tls", 587, "implicit"),
        ("starttls", 465, "starttls"),
        ("none", 465, "none"),
    ],
)
def test_effective_tls_mode_follows_the_port_conventions(tls: str, port: int, expected: str):
    assert effective_tls_mode(tls, port) == expected


def test_auto_upgrades_with_starttls_and_authenticates_under_tls(smtp_ca, smtp_cert):
    steps: list[tuple[str, str]] = []
    with SMTPTestServer(tls="starttls", certificate=smtp_cert, users={USER: PASSWORD}) as server:
        result = send(
            settings(server.port, smtp_ca, username=USER, password=PASSWORD),
            trace=lambda step, detail: steps.append((step, detail)),
        )
    assert server.verbs[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]
    assert all(c.encrypted for c in server.commands if c.verb in ("AUTH", "MAIL", "DATA"))
    (received,) = server.messages
    assert received.encrypted and received.authenticated_as == USER
    assert received.rcpt_tos == (TO,)
    assert result.tls == "starttls" and result.certificate_verified
    assert result.tls_version and result.tls_version.startswith("TLS")
    assert result.authenticated_as == USER
    assert result.accepted == (TO,)
    assert result.elapsed < 5
    names = [step for step, _ in steps]
    assert names == ["connect", "ehlo", "tls", "auth", "mail", "rcpt", "data", "done"]
    assert list(result.steps) == steps


def test_auto_falls_back_to_plain_when_starttls_is_not_offered():
    with SMTPTestServer() as server:
        result = send(settings(server.port, strict=False))
    assert result.tls == "none" and not result.certificate_verified
    assert "STARTTLS" not in server.verbs
    assert not server.messages[0].encrypted


def test_auto_satisfies_a_server_that_requires_starttls(smtp_ca, smtp_cert):
    with SMTPTestServer(tls="starttls", certificate=smtp_cert, require_starttls=True) as server:
        result = send(settings(server.port, smtp_ca))
    assert result.tls == "starttls" and server.messages[0].encrypted


def test_implicit_tls_mode(smtp_ca, smtp_cert):
    with SMTPTestServer(tls="implicit", certificate=smtp_cert, users={USER: PASSWORD}) as server:
        result = send(settings(server.port, smtp_ca, tls="tls", username=USER, password=PASSWORD))
    assert result.tls == "implicit" and result.authenticated_as == USER
    assert "STARTTLS" not in server.verbs
    assert server.messages[0].encrypted


def test_auto_on_port_465_speaks_implicit_tls(smtp_ca, smtp_cert):
    # Binding 465 needs root (or CAP_NET_BIND_SERVICE) and a free port; the port rule itself
    # is covered by test_effective_tls_mode_follows_the_port_conventions.
    if not port_is_free(465):
        pytest.skip("cannot bind 127.0.0.1:465 here")
    with SMTPTestServer(tls="implicit", certificate=smtp_cert, port=465) as server:
        result = send(settings(465, smtp_ca, tls="auto"))
    assert result.tls == "implicit" and server.messages[0].encrypted


def test_auto_on_port_587_requires_starttls():
    if not port_is_free(587):
        pytest.skip("cannot bind 127.0.0.1:587 here")
    with SMTPTestServer(port=587) as server, pytest.raises(TLSFailed) as info:
        send(settings(587, tls="auto", strict=False))
    assert "STARTTLS" in str(info.value) and "port 587" in str(info.value)
    assert "MAIL" not in server.verbs


def test_starttls_required_but_not_offered_fails_before_mail():
    with SMTPTestServer() as server, pytest.raises(TLSFailed) as info:
        send(settings(server.port, tls="starttls"))
    assert str(info.value).startswith(f"SMTP tls failed on {LOOPBACK}:{server.port}:")
    assert "does not offer STARTTLS" in str(info.value)
    assert server.verbs == ["EHLO", "QUIT"]
    assert server.messages == []


def test_implicit_tls_against_a_plain_server_fails_with_a_hint():
    with SMTPTestServer() as server, pytest.raises(TLSFailed) as info:
        send(settings(server.port, tls="tls"))
    assert "starttls" in str(info.value)


@pytest.mark.parametrize("variant", ["starttls", "implicit"])
def test_certificate_from_an_untrusted_ca_is_refused(smtp_ca, foreign_cert, variant):
    tls = "tls" if variant == "implicit" else "starttls"
    with SMTPTestServer(tls=variant, certificate=foreign_cert) as server:
        with pytest.raises(TLSFailed) as info:
            send(settings(server.port, smtp_ca, tls=tls))
        assert "certificate not trusted" in str(info.value)
        assert f"{LOOPBACK}:{server.port}" in str(info.value)
        assert "MAIL" not in server.verbs and server.messages == []


@pytest.mark.parametrize("variant", ["starttls", "implicit"])
def test_verify_off_accepts_an_untrusted_certificate(smtp_ca, foreign_cert, variant):
    tls = "tls" if variant == "implicit" else "starttls"
    with SMTPTestServer(tls=variant, certificate=foreign_cert) as server:
        result = send(settings(server.port, smtp_ca, tls=tls, verify=False))
    assert result.tls == ("implicit" if variant == "implicit" else "starttls")
    assert not result.certificate_verified
    assert any("NOT verified" in detail for _, detail in result.steps)
    assert server.messages[0].encrypted


def test_certificate_for_another_host_name_is_refused(smtp_ca):
    wrong_name = smtp_ca.issue(["mail.example.test"])
    with SMTPTestServer(tls="starttls", certificate=wrong_name) as server:
        with pytest.raises(TLSFailed) as info:
            send(settings(server.port, smtp_ca))
        assert "mismatch" in str(info.value).lower()
        assert send(settings(server.port, smtp_ca, verify=False)).tls == "starttls"


def test_a_missing_ca_file_is_a_clear_tls_error(tmp_path):
    with SMTPTestServer() as server, pytest.raises(TLSFailed) as info:
        send(settings(server.port, ca_file=tmp_path / "missing.pem"))
    assert "cannot load CA file" in str(info.value) and "missing.pem" in str(info.value)
    assert server.commands == []


# --------------------------------------------------------------------------- authentication


def test_wrong_credentials_raise_auth_failed(smtp_ca, smtp_cert):
    srv = SMTPTestServer(tls="starttls", certificate=smtp_cert, users={USER: "the-right-one"})
    with srv, pytest.raises(AuthFailed) as info:
        send(settings(srv.port, smtp_ca, username=USER, password=PASSWORD))
    assert info.value.code == 535
    assert str(info.value).startswith(f"SMTP auth failed on {LOOPBACK}:{srv.port}:")
    assert srv.auth_attempts and not any(ok for _, _, ok in srv.auth_attempts)
    assert srv.messages == []


def test_strict_mode_never_sends_credentials_in_the_clear():
    # The server offers AUTH without TLS, so only the client's own rule keeps it from AUTH.
    with SMTPTestServer(users={USER: PASSWORD}, auth_require_tls=False) as server:
        with pytest.raises(InsecureAuthRefused) as info:
            send(settings(server.port, username=USER, password=PASSWORD))
        assert "AUTH" not in server.verbs
        assert server.auth_attempts == [] and server.messages == []
    assert "strict mode" in str(info.value) and f"{LOOPBACK}:{server.port}" in str(info.value)


def test_strict_mode_with_tls_none_refuses_before_connecting():
    with SMTPTestServer(users={USER: PASSWORD}, auth_require_tls=False) as server:
        with pytest.raises(InsecureAuthRefused):
            send(settings(server.port, tls="none", username=USER, password=PASSWORD))
        assert server.commands == []


def test_development_mode_may_authenticate_over_plain_with_a_warning():
    with SMTPTestServer(users={USER: PASSWORD}, auth_require_tls=False) as server:
        result = send(settings(server.port, strict=False, username=USER, password=PASSWORD))
    assert result.authenticated_as == USER and result.tls == "none"
    assert any(step == "auth" and "warning" in detail for step, detail in result.steps)


def test_credentials_for_a_server_without_auth_fail_clearly(smtp_ca, smtp_cert):
    with (
        SMTPTestServer(tls="starttls", certificate=smtp_cert) as srv,
        pytest.raises(AuthFailed) as info,
    ):
        send(settings(srv.port, smtp_ca, username=USER, password=PASSWORD))
    assert "does not offer AUTH" in str(info.value)


def test_the_password_never_appears_in_errors_or_reprs(smtp_ca, smtp_cert, foreign_cert):
    config = settings(1, smtp_ca, username=USER, password=PASSWORD)
    texts = [repr(config), str(config), repr(MailSender(config))]
    errors: list[MailError] = []
    with SMTPTestServer(tls="starttls", certificate=smtp_cert, users={USER: "other"}) as server:
        with pytest.raises(AuthFailed) as auth:
            send(settings(server.port, smtp_ca, username=USER, password=PASSWORD))
        errors.append(auth.value)
    with SMTPTestServer(users={USER: PASSWORD}, auth_require_tls=False) as server:
        with pytest.raises(InsecureAuthRefused) as insecure:
            send(settings(server.port, username=USER, password=PASSWORD))
        errors.append(insecure.value)
    with SMTPTestServer(tls="starttls", certificate=foreign_cert) as server:
        with pytest.raises(TLSFailed) as tls:
            send(settings(server.port, smtp_ca, username=USER, password=PASSWORD))
        errors.append(tls.value)
    with ClosedPort() as closed, pytest.raises(SMTPConnectError) as connect:
        send(settings(closed.port, username=USER, password=PASSWORD))
    errors.append(connect.value)
    for error in errors:
        texts += [str(error), repr(error), repr(error.args), str(error.__cause__ or "")]
    assert "'***'" in repr(config)
    assert not [text for text in texts if PASSWORD in text]


# --------------------------------------------------------------------------- failures


def test_closed_port_fails_fast_with_connect_failed():
    with ClosedPort() as closed:
        started = time.monotonic()
        with pytest.raises(SMTPConnectError) as info:
            send(settings(closed.port, strict=False))
    assert time.monotonic() - started < 1
    assert str(info.value) == (
        f"SMTP connect failed on {LOOPBACK}:{closed.port}: "
        "connection refused (nothing listens on that port)"
    )


@pytest.mark.parametrize("tls", ["auto", "tls"])
def test_silent_server_times_out_within_the_budget(tls: str):
    with SilentServer() as silent:
        started = time.monotonic()
        with pytest.raises(MailTimeout) as info:
            send(settings(silent.port, tls=tls, timeout=0.5, strict=False))
        elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 1
    assert f"{LOOPBACK}:{silent.port}" in str(info.value)
    assert info.value.step == "connect"


@pytest.mark.parametrize("drop_at", ["MAIL", "RCPT", "DATA"])
def test_server_dropping_the_connection_raises_connection_dropped(drop_at: str):
    server = SMTPTestServer(drop_at=drop_at)  # type: ignore[arg-type]
    with server, pytest.raises(ConnectionDropped) as info:
        send(settings(server.port, strict=False))
    assert info.value.step == drop_at.lower()
    assert server.messages == []


def test_refused_recipient_sends_nothing_and_names_it():
    msg = message(to=[TO, "ghost@example.com"])
    with SMTPTestServer(refuse=["ghost@example.com"]) as server:
        with pytest.raises(RecipientRefused) as info:
            send(settings(server.port, strict=False), msg)
        assert server.messages == []
    error = info.value
    assert list(error.refused) == ["ghost@example.com"]
    assert error.refused["ghost@example.com"][0] == 550
    assert error.accepted == (TO,)
    assert "<ghost@example.com>" in str(error) and error.step == "rcpt"


def test_sender_refused_when_the_server_insists_on_starttls(smtp_cert):
    server = SMTPTestServer(tls="starttls", certificate=smtp_cert, require_starttls=True)
    with server, pytest.raises(SenderRefused) as info:
        send(settings(server.port, tls="none", strict=False))
    assert info.value.code == 530 and "STARTTLS" in str(info.value)


# --------------------------------------------------------------------------- messages


def test_the_received_message_is_intact():
    msg = message(
        to=["Alice Example <alice@example.com>", "bob@example.org"],
        subject="Bienvenue à oCore ✓",
        text="Hello Alice,\n.\nA line with a lone dot above. Grüße!\n",
        html="<p>Hello <b>Alice</b> — Grüße!</p>",
        reply_to="Support <support@ocore.local>",
    )
    with SMTPTestServer() as server:
        result = send(settings(server.port, strict=False), msg)
    (received,) = server.messages
    assert received.mail_from == "noreply@ocore.local"
    assert received.rcpt_tos == ("alice@example.com", "bob@example.org")
    parsed = received.parsed()
    assert parsed["From"] == FROM
    assert parsed["To"] == "Alice Example <alice@example.com>, bob@example.org"
    assert parsed["Reply-To"] == "Support <support@ocore.local>"
    assert parsed["Subject"] == "Bienvenue à oCore ✓"
    assert parsed["Message-ID"] == result.message_id
    assert result.message_id.endswith("@ocore.local>")
    assert parsedate_to_datetime(parsed["Date"]).utcoffset().total_seconds() == 0
    assert parsed.get_content_type() == "multipart/alternative"
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    assert text_part.get_content() == "Hello Alice,\n.\nA line with a lone dot above. Grüße!\n"
    assert html_part.get_content() == "<p>Hello <b>Alice</b> — Grüße!</p>\n"
    assert received.content.isascii()  # 7-bit clean: no 8BITMIME needed anywhere


def test_text_only_message_is_single_part():
    built = build_message(to=TO, subject="Plain", text="just text", from_addr=FROM)
    assert built.get_content_type() == "text/plain"
    assert built.get_content() == "just text\n"


def test_an_email_message_is_sent_as_is_with_bcc_hidden():
    msg = EmailMessage()
    msg["From"] = FROM
    msg["To"] = TO
    msg["Bcc"] = "audit@example.com"
    msg["Subject"] = "Prepared elsewhere"
    msg.set_content("body")
    with SMTPTestServer() as server:
        send(settings(server.port, strict=False), msg)
    (received,) = server.messages
    assert received.rcpt_tos == (TO, "audit@example.com")
    assert b"audit@example.com" not in received.content
    assert "Bcc" in msg  # the caller's message is left alone


@pytest.mark.parametrize(
    "field",
    [
        {"from_addr": "noreply@ocore.local\r\nBcc: victim@example.com"},
        {"to": "alice@example.com\nBcc: victim@example.com"},
        {"to": ["ok@example.com", "x@example.com\rBcc: victim@example.com"]},
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"subject": "Hi\nthere"},
        {"reply_to": "a@example.com\r\nX-Evil: 1"},
    ],
)
def test_line_breaks_in_headers_are_rejected(field: dict[str, Any]):
    values: dict[str, Any] = {"to": TO, "subject": "Hi", "text": "t", "from_addr": FROM}
    values.update(field)
    with pytest.raises(InvalidMessage) as info:
        build_message(**values)
    assert isinstance(info.value, ValueError)


def test_line_breaks_are_rejected_before_any_connection():
    with SMTPTestServer() as server:
        with pytest.raises(InvalidMessage):
            send(settings(server.port, strict=False), message(subject="a\r\nBcc: x@y.org"))
        with pytest.raises(InvalidAddress):
            send(settings(server.port, strict=False), message(to="nodomain"))
        assert server.commands == []


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("noreply@ocore.local", "noreply@ocore.local"),
        ("oCore <noreply@ocore.local>", "oCore <noreply@ocore.local>"),
        ("  Ops@Example.COM ", "Ops@example.com"),
        ('"Doe, John" <john@example.com>', '"Doe, John" <john@example.com>'),
        ("Jörg <jorg@example.com>", "Jörg <jorg@example.com>"),
        ("info@bücher.de", "info@xn--bcher-kva.de"),
        ("<a@example.com>", "a@example.com"),
    ],
)
def test_validate_address_accepts_and_normalises(text: str, normalised: str):
    assert validate_address(text) == normalised


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("noreply", "no domain"),
        ("noreply@", "no domain"),
        ("Name <noreply>", "no domain"),
        ("@ocore.local", "no local part"),
        ("noreply@localhost", "fully qualified"),
        ("a@b.com, c@d.com", "exactly one"),
        ("a@b.com,", "exactly one"),
        ("a b@example.com", "exactly one"),
        ("a@b@example.com", "exactly one"),
        ("Name <a@example.com> junk", "exactly one"),
        ("Name <a@example.com", "exactly one"),
        ('"two words"@example.com', "local part"),
        ("a@exa_mple.com", "invalid domain"),
        ("a@-example.com", "invalid domain"),
        ("a@example.123", "invalid domain"),
        ("a@example.com\r\nBcc: b@example.com", "line breaks"),
        ("a@example.com\x00", "control characters"),
        ("", "empty"),
    ],
)
def test_validate_address_rejects_with_a_reason(text: str, reason: str):
    with pytest.raises(ValueError, match=reason):
        validate_address(text)


@pytest.mark.parametrize(
    ("overrides", "message_part"),
    [
        ({"tls": "ssl"}, "TLS mode"),
        ({"port": 0}, "between 1 and 65535"),
        ({"port": 70000}, "between 1 and 65535"),
        ({"timeout": 0}, "timeout"),
        ({"username": USER}, "needs a password"),
        ({"password": PASSWORD}, "needs a username"),
        ({"from_addr": "not-an-address"}, "no domain"),
        ({"host": ""}, "host"),
        ({"username": USER, "password": "pässwörd"}, "must be ASCII"),
    ],
)
def test_settings_reject_impossible_values(overrides: dict[str, Any], message_part: str):
    with pytest.raises(ValueError, match=message_part) as info:
        settings(**{"port": 25, **overrides})
    assert PASSWORD not in str(info.value) and "pässwörd" not in str(info.value)


def test_settings_default_to_the_secure_choices():
    config = SenderOptions(host="smtp.example.com", port=587, from_addr=FROM)
    assert (config.tls, config.verify, config.strict, config.timeout) == ("auto", True, True, 10)
    assert config.username is None and config.password is None and config.ca_file is None
