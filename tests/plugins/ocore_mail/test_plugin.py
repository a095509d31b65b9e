"""The plugin's wiring (hooks, entry point) and ``dev_services``: the sink for ``ocore dev``."""

from __future__ import annotations

import logging
import sys
from email import policy
from email.parser import BytesParser
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

import ocore_mail
from ocore_flask import close_app, create_app
from ocore_flask.config import settings_of
from ocore_flask.discovery import load_plugins
from ocore_flask.plugin import ENTRY_POINT_GROUP
from ocore_flask.testing import JWT_SECRET, base_env, free_port, run
from ocore_mail.cli import mail_group
from ocore_mail.dev import dev_mail_sink
from ocore_mail.service import MailService, send_mail
from ocore_mail.sink import MailSink, port_in_use
from ocore_mail.testing import LOOPBACK, SMTPTestServer


def test_the_entry_point_publishes_the_mail_plugin():
    (ep,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "mail"]
    assert ep.load() is ocore_mail.plugin


def test_hooks_declare_the_section_and_the_command():
    plugin = ocore_mail.plugin
    found = load_plugins({}, [plugin])
    (section,) = found.call(plugin, "health_contributors")
    assert section.name == "mail" and section.critical is False
    (group,) = found.call(plugin, "cli_commands")
    assert group.name == "mail" and "test" in group.commands
    names = {setting.name for setting in settings_of(plugin.settings)}
    assert {"SMTP_CA_FILE", "SMTP_HEALTH_PROBE"} <= names


def test_init_app_stores_the_service_and_close_releases_it(mail_env):
    app = create_app(mail_env(2525), [ocore_mail.plugin])
    assert isinstance(ocore_mail.mailer(app), MailService)
    close_app(app)
    with pytest.raises(RuntimeError, match="plugin 'mail' is not active"):
        ocore_mail.mailer(app)


def dev_environ(port: int, **variables: str) -> dict[str, str]:
    """What ``ocore dev`` hands to ``dev_services``: the environment, SMTP_HOST left unset."""
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "SMTP_PORT": str(port),
        **variables,
    }


def stored(directory: Path) -> list:
    parse = BytesParser(policy=policy.default).parsebytes
    return [parse(path.read_bytes()) for path in sorted(directory.glob("*.eml"))]


def test_dev_services_starts_a_sink_and_app_mail_lands_in_instance(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    port = free_port()
    environ = dev_environ(port)
    caplog.set_level(logging.INFO, logger="ocore_mail")
    with dev_mail_sink(environ, tmp_path) as sink:
        assert isinstance(sink, MailSink) and sink.running
        assert (sink.host, sink.port) == (LOOPBACK, port)  # localhost is served on 127.0.0.1
        assert logging.getLogger("mail.log").getEffectiveLevel() >= logging.WARNING
        app = create_app(environ, [ocore_mail.plugin], instance_path=str(tmp_path))
        try:
            with app.app_context():
                send_mail("alice@example.com", "Welcome", "Hi Alice", "<p>Hi</p>")
        finally:
            close_app(app)
        # The done-when: `ocore mail test` on a fresh machine ends up in the sink too.
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        factory = ScriptInfo(create_app=lambda: create_app(plugins=[ocore_mail.plugin]))
        result = CliRunner().invoke(mail_group, ["test", "you@example.com"], obj=factory)
        assert result.exit_code == 0, result.output
    assert not port_in_use(LOOPBACK, port), "the sink must stop with the context"
    welcome, test = stored(tmp_path / "mail")
    assert welcome["Subject"] == "Welcome" and welcome["Delivered-To"] == "alice@example.com"
    assert welcome.get_content_type() == "multipart/alternative"
    assert test["Subject"] == "oCore mail test" and test["To"] == "you@example.com"
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        f"listening on {LOOPBACK}:{port}" in m and str(tmp_path / "mail") in m for m in messages
    )
    assert any("subject='Welcome'" in m for m in messages)  # one summary line per message


def test_dev_services_uses_a_server_that_already_listens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="ocore_mail")
    with (
        SMTPTestServer() as server,
        dev_mail_sink(dev_environ(server.port), tmp_path) as sink,
    ):
        assert sink is None
    assert not (tmp_path / "mail").exists()
    # Loudly: this server's mail lands in someone else's server (e.g. another ocore dev's sink).
    (warning,) = [r for r in caplog.records if "already listens" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert f"localhost:{server.port} (SMTP_PORT)" in message
    assert "starts no mail sink" in message and str(tmp_path / "mail") in message
    assert "set SMTP_PORT to a free port" in message


def test_the_base_install_never_imports_aiosmtpd():
    """aiosmtpd is in the dev extra only: the app, its commands and health run without it."""
    code = (
        "import sys; sys.modules['aiosmtpd'] = None\n"
        "from ocore_flask import create_app, close_app\n"
        "from ocore_flask.testing import development_environ\n"
        "from ocore_flask.cli import ocore\n"
        "from click.testing import CliRunner\n"
        "app = create_app(development_environ(), only=['mail'])\n"
        "assert app.test_client().get('/api/health').status_code == 200\n"
        "import ocore_mail.service, ocore_mail.health, ocore_mail.cli, ocore_mail.sender\n"
        "close_app(app)\n"
        "assert CliRunner().invoke(ocore, ['mail', '--help']).exit_code == 0\n"
        "loaded = [m for m, mod in sys.modules.items() if mod is not None]\n"
        "assert not [m for m in loaded if m.startswith(('aiosmtpd', 'ocore_mail.sink'))]\n"
    )
    result = run([sys.executable, "-c", code], base_env())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"SMTP_HOST": "smtp.example.com"},  # never stood in for, never even contacted
        {"SMTP_PORT": "smtp"},  # invalid: the configuration report will say so
        {"SMTP_HOST": "http://localhost"},
    ],
)
def test_dev_services_starts_nothing_for_a_remote_or_invalid_address(tmp_path: Path, variables):
    environ = {**dev_environ(free_port()), **variables}
    with dev_mail_sink(environ, tmp_path) as sink:
        assert sink is None
    assert not (tmp_path / "mail").exists()


def test_dev_services_restores_the_aiosmtpd_log_level(tmp_path: Path):
    logger = logging.getLogger("mail.log")
    logger.setLevel(logging.ERROR)  # the autouse fixture restores it afterwards
    with dev_mail_sink(dev_environ(free_port()), tmp_path) as sink:
        assert sink is not None and logger.level == logging.ERROR
    logger.setLevel(logging.NOTSET)
    with dev_mail_sink(dev_environ(free_port()), tmp_path):
        assert logger.level == logging.WARNING
    assert logger.level == logging.NOTSET


def test_dev_services_on_an_explicit_loopback_address(tmp_path: Path):
    port = free_port()
    with dev_mail_sink(dev_environ(port, SMTP_HOST="127.0.0.1"), tmp_path) as sink:
        assert sink is not None and (sink.host, sink.port) == ("127.0.0.1", port)
        assert port_in_use("127.0.0.1", port)
