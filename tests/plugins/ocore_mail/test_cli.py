"""``ocore mail test ADDRESS``: each step printed as it happens, one clear line on failure."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

import ocore_mail
from ocore_flask import create_app
from ocore_flask.cli import ocore
from ocore_flask.testing import JWT_SECRET, base_env, run, script
from ocore_mail.cli import mail_group
from ocore_mail.testing import LOOPBACK, ClosedPort, SMTPTestServer

USER = "mailer"
PASSWORD = "Sup3r-S3cret-Pa55word!"
TO = "you@example.com"
STEP = re.compile(r"^  (\w+)\s+(.*)$")


def factory() -> Flask:
    """The app as ``flask --app`` would load it: from os.environ, with only the mail plugin."""
    return create_app(plugins=[ocore_mail.plugin])


@pytest.fixture
def setenv(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set a development environment for the mail plugin in os.environ (isolated per test)."""

    def apply(port: int, **variables: object) -> None:
        values = {
            "ENVIRONMENT": "development",
            "JWT_SECRET": JWT_SECRET,
            "LOG_LEVEL": "warning",
            "SMTP_HOST": LOOPBACK,
            "SMTP_PORT": str(port),
            "SMTP_TIMEOUT": "5s",
            **{name: str(value) for name, value in variables.items()},
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


def mail_test(address: str = TO, *, through_ocore: bool = False) -> Result:
    """Run ``ocore mail test ADDRESS`` in-process; by default the group itself, so that another
    plugin's commands (discovered by ``ocore``) cannot break these tests."""
    info = ScriptInfo(create_app=factory)
    if through_ocore:
        return CliRunner().invoke(ocore, ["mail", "test", address], obj=info)
    return CliRunner().invoke(mail_group, ["test", address], obj=info, prog_name="ocore mail")


def steps(output: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in map(STEP.match, output.splitlines()) if m]


def test_plain_server_every_step_is_printed_and_both_parts_arrive(setenv):
    with SMTPTestServer() as server:
        setenv(server.port)
        result = mail_test(through_ocore=True)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Sending a test message to {TO} through {LOOPBACK}:{server.port}")
    names = [name for name, _ in steps(result.stdout)]
    assert names == ["connect", "ehlo", "tls", "auth", "mail", "rcpt", "data", "done"]
    details = dict(steps(result.stdout))
    assert "does not offer STARTTLS; continuing unencrypted" in details["tls"]
    assert "accepted" in details["data"]
    assert lines[-1].startswith("OK: <") and lines[-1].endswith(f"accepted for {TO}")
    (received,) = server.messages
    message = received.parsed()
    assert message["Subject"] == "oCore mail test" and message["To"] == TO
    text, html = message.iter_parts()
    assert "outgoing mail works" in text.get_content()
    assert html.get_content_type() == "text/html" and "<b>oCore</b>" in html.get_content()


def test_starttls_and_auth_are_shown_but_never_the_password(setenv, smtp_ca, smtp_cert):
    with SMTPTestServer(
        tls="starttls", certificate=smtp_cert, require_starttls=True, users={USER: PASSWORD}
    ) as server:
        setenv(
            server.port,
            SMTP_USERNAME=USER,
            SMTP_PASSWORD=PASSWORD,
            SMTP_CA_FILE=smtp_ca.ca_file,
            SMTP_TLS="starttls",
        )
        result = mail_test()
    assert result.exit_code == 0, result.output
    details = dict(steps(result.stdout))
    assert details["tls"].startswith("STARTTLS: TLSv1.")
    assert f"certificate verified for {LOOPBACK}" in details["tls"]
    assert details["auth"] == f"authenticated as {USER}"
    assert PASSWORD not in result.output
    assert server.messages[0].encrypted and server.messages[0].authenticated_as == USER


@pytest.mark.parametrize("failure", ["closed port", "wrong password", "starttls not offered"])
def test_failures_exit_1_with_one_clear_line(setenv, smtp_ca, smtp_cert, failure: str):
    if failure == "closed port":
        with ClosedPort() as closed:
            setenv(closed.port)
            result = mail_test()
        expected = f"error: SMTP connect failed on {LOOPBACK}:{closed.port}: connection refused"
    elif failure == "wrong password":
        with SMTPTestServer(tls="starttls", certificate=smtp_cert, users={USER: "other"}) as server:
            setenv(
                server.port,
                SMTP_USERNAME=USER,
                SMTP_PASSWORD=PASSWORD,
                SMTP_CA_FILE=smtp_ca.ca_file,
            )
            result = mail_test()
        expected = f"error: SMTP auth failed on {LOOPBACK}:{server.port}: credentials rejected"
    else:
        with SMTPTestServer() as server:
            setenv(server.port, SMTP_TLS="starttls")
            result = mail_test()
        assert server.messages == []
        expected = "error: SMTP tls failed"
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(expected), result.stderr
    assert "Traceback" not in result.output and PASSWORD not in result.output


def test_starttls_not_offered_names_the_setting(setenv):
    with SMTPTestServer() as server:
        setenv(server.port, SMTP_TLS="starttls")
        result = mail_test()
    assert "does not offer STARTTLS (required by SMTP_TLS=starttls)" in result.stderr


def test_a_malformed_address_is_a_usage_error_before_any_connection(setenv):
    with SMTPTestServer() as server:
        setenv(server.port)
        result = mail_test("you-at-example")
    assert result.exit_code == 2
    assert "Invalid value for 'ADDRESS'" in result.stderr and "no domain" in result.stderr
    assert server.commands == []


def test_a_broken_configuration_exits_78_with_the_report(setenv):
    setenv(2525, SMTP_PORT="smtp")
    result = mail_test()
    assert result.exit_code == 78
    assert "SMTP_PORT" in result.stderr and "Traceback" not in result.output


def test_the_ocore_console_script_sends_a_test_message(pg_server, smtp_ca, smtp_cert):
    with SMTPTestServer(
        tls="starttls", certificate=smtp_cert, require_starttls=True, users={USER: PASSWORD}
    ) as server:
        env = base_env(
            {
                "ENVIRONMENT": "development",
                "JWT_SECRET": JWT_SECRET,
                "DATABASE_URL": pg_server,
                "SMTP_HOST": LOOPBACK,
                "SMTP_PORT": str(server.port),
                "SMTP_USERNAME": USER,
                "SMTP_PASSWORD": PASSWORD,
                "SMTP_CA_FILE": str(smtp_ca.ca_file),
                "SMTP_FROM": "oCore <noreply@example.com>",
            }
        )
        result = run([script("ocore"), "mail", "test", TO], env, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    names = [name for name, _ in steps(result.stdout)]
    assert names == ["connect", "ehlo", "tls", "auth", "mail", "rcpt", "data", "done"]
    details = dict(steps(result.stdout))
    assert "STARTTLS: TLSv1." in details["tls"] and details["auth"] == f"authenticated as {USER}"
    assert result.stdout.splitlines()[-1].endswith(f"accepted for {TO}")
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (received,) = server.messages
    assert received.encrypted and received.authenticated_as == USER
    message = received.parsed()
    assert message["From"] == "oCore <noreply@example.com>" and message["To"] == TO
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def mail_test_json(address: str = TO) -> Result:
    """``ocore mail test ADDRESS --json`` in-process, through the mail group."""
    info = ScriptInfo(create_app=factory)
    return CliRunner().invoke(mail_group, ["test", address, "--json"], obj=info)


def test_json_lists_the_steps_and_the_outcome(setenv, smtp_ca, smtp_cert):
    with SMTPTestServer(
        tls="starttls", certificate=smtp_cert, require_starttls=True, users={USER: PASSWORD}
    ) as server:
        setenv(
            server.port, SMTP_USERNAME=USER, SMTP_PASSWORD=PASSWORD, SMTP_CA_FILE=smtp_ca.ca_file
        )
        result = mail_test_json()
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert (report["to"], report["host"], report["port"]) == (TO, LOOPBACK, server.port)
    assert [s["step"] for s in report["steps"]] == [
        "connect", "ehlo", "tls", "auth", "mail", "rcpt", "data", "done"
    ]  # fmt: skip
    assert report["ok"] is True and report["accepted"] == [TO]
    assert report["message_id"].startswith("<") and report["encryption"] == "starttls"
    assert report["tls_version"].startswith("TLSv1.") and report["certificate_verified"] is True
    assert report["authenticated_as"] == USER
    assert len(server.messages) == 1 and PASSWORD not in result.output


def test_json_failure_keeps_the_steps_and_one_error_line(setenv, smtp_ca, smtp_cert):
    with SMTPTestServer(tls="starttls", certificate=smtp_cert, users={USER: "other"}) as server:
        setenv(
            server.port, SMTP_USERNAME=USER, SMTP_PASSWORD=PASSWORD, SMTP_CA_FILE=smtp_ca.ca_file
        )
        result = mail_test_json()
    assert result.exit_code == 1
    expected = f"SMTP auth failed on {LOOPBACK}:{server.port}: credentials rejected"
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {expected}")
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["error"].startswith(expected)
    assert [s["step"] for s in report["steps"]][:3] == ["connect", "ehlo", "tls"]
    assert PASSWORD not in result.output and server.messages == []
