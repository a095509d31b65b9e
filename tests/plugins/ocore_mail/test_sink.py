"""The development mail sink: messages arrive over real SMTP and land as .eml files."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from ocore_mail.sender import MailSender, OutgoingMessage, SenderOptions
from ocore_mail.sink import MailSink, port_in_use
from ocore_mail.testing import LOOPBACK, ClosedPort

LOGGER = "tests.ocore_mail.sink"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(
        host=LOOPBACK, port=0, directory=tmp_path / "mail", logger=logging.getLogger(LOGGER)
    ) as running:
        yield running


def smtplib_send(port: int, subject: str, to: list[str]) -> None:
    msg = EmailMessage()
    msg["From"] = "noreply@ocore.local"
    msg["To"] = to[0]
    msg["Subject"] = subject
    msg.set_content("Hello from the test.\n")
    with smtplib.SMTP(LOOPBACK, port, local_hostname="test.local", timeout=5) as client:
        client.send_message(msg, to_addrs=to)


def test_a_message_sent_with_smtplib_becomes_an_eml_file_and_a_log_line(
    sink: MailSink, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        smtplib_send(sink.port, "Welcome to oCore", ["alice@example.com", "audit@example.com"])
    (path,) = sink.directory.glob("*.eml")
    assert re.fullmatch(r"\d{8}-\d{6}-0001\.eml", path.name)
    stored = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert stored["Subject"] == "Welcome to oCore"
    assert stored["Return-Path"] == "<noreply@ocore.local>"
    assert stored.get_all("Delivered-To") == ["alice@example.com", "audit@example.com"]
    assert stored.get_content().replace("\r\n", "\n") == "Hello from the test.\n"
    assert sink.received == 1
    (line,) = [r.getMessage() for r in caplog.records if "from=" in r.getMessage()]
    assert "from=<noreply@ocore.local>" in line
    assert "to=<alice@example.com>,<audit@example.com>" in line
    assert "subject='Welcome to oCore'" in line
    assert "size=" in line and path.name in line


def test_each_message_gets_its_own_file_in_order(sink: MailSink):
    for n in range(3):
        smtplib_send(sink.port, f"message {n}", ["bob@example.com"])
    paths = sorted(sink.directory.glob("*.eml"))
    assert [p.name[-8:] for p in paths] == ["0001.eml", "0002.eml", "0003.eml"]
    subjects = [
        BytesParser(policy=policy.default).parsebytes(p.read_bytes())["Subject"] for p in paths
    ]
    assert subjects == ["message 0", "message 1", "message 2"]


def test_the_mail_sender_delivers_to_the_sink_in_development_mode(sink: MailSink):
    config = SenderOptions(
        host=LOOPBACK,
        port=sink.port,
        from_addr="noreply@ocore.local",
        username="dev",
        password="anything",
        strict=False,
        timeout=5,
    )
    result = MailSender(config).send(
        OutgoingMessage(to="carol@example.com", subject="Reset", text="t", html="<p>h</p>")
    )
    assert result.tls == "none" and result.authenticated_as == "dev"
    (path,) = sink.directory.glob("*.eml")
    stored = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert stored["Message-ID"] == result.message_id


def test_port_in_use_tells_whether_something_listens(tmp_path: Path):
    with MailSink(host=LOOPBACK, port=0, directory=tmp_path) as running:
        port = running.port
        assert port_in_use(LOOPBACK, port)
    assert not running.running
    assert not port_in_use(LOOPBACK, port)
    with ClosedPort() as closed:
        assert not port_in_use(LOOPBACK, closed.port)


def test_starting_on_a_taken_port_fails_at_once_naming_it(tmp_path: Path):
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        sink = MailSink(host=LOOPBACK, port=port, directory=tmp_path)
        with pytest.raises(OSError, match=f"mail sink cannot listen on {LOOPBACK}:{port}"):
            sink.start()
    assert not sink.running
    sink.stop()  # harmless when never started


def test_start_creates_the_directory_and_stop_is_idempotent(tmp_path: Path):
    target = tmp_path / "nested" / "mail"
    sink = MailSink(host=LOOPBACK, port=0, directory=target).start()
    try:
        assert target.is_dir() and sink.running and sink.port > 0
    finally:
        sink.stop()
        sink.stop()
    assert not sink.running
