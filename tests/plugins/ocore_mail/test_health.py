"""The ``mail`` section of the rich ``/api/health`` payload, with and without the probe."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ocore_flask.testing import HEALTH_TOKEN
from ocore_mail import mailer
from ocore_mail.sender import SMTPConnectError
from ocore_mail.testing import LOOPBACK, ClosedPort, SilentServer, SMTPTestServer

AUTH = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
USER = "mailer"
PASSWORD = "Sup3r-S3cret-Pa55word!"


def rich(app) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/api/health", headers=AUTH)
    return response.status_code, response.json


def test_section_shows_where_mail_goes_and_the_last_send(mail_app, mail_env):
    with SMTPTestServer() as server:
        app = mail_app(mail_env(server.port, HEALTH_CACHE_TTL="0s"))
        anonymous = app.test_client().get("/api/health")
        assert anonymous.data == b'{"status":"ok"}'

        status, before = rich(app)
        assert status == 200 and before["status"] == "ok"
        section = before["checks"]["mail"]
        assert section["status"] == "ok" and section["critical"] is False
        data = section["data"]
        assert data["host"] == LOOPBACK and data["port"] == server.port
        assert data["tls"] == "auto" and data["tls_effective"] == "opportunistic"
        assert data["last_send"] is None and data["probe"] is None
        assert server.commands == []  # no probe: the section does no I/O

        mailer(app).send("alice@example.com", "Hi", "text")
        _, after = rich(app)
    last = after["checks"]["mail"]["data"]["last_send"]
    assert last["outcome"] == "sent" and last["at"].endswith("Z")
    assert after["checks"]["mail"]["data"]["sends"]["sent"] == 1
    assert after["checks"]["mail"]["status"] == "ok"


def test_a_failed_last_send_degrades_the_section_but_not_the_service(mail_app, mail_env):
    with ClosedPort() as closed:
        app = mail_app(mail_env(closed.port, HEALTH_CACHE_TTL="0s"))
        with pytest.raises(SMTPConnectError) as failed:
            mailer(app).send("alice@example.com", "Hi", "text")
    assert failed.value.step == "connect" and failed.value.port == closed.port
    status, payload = rich(app)
    section = payload["checks"]["mail"]
    assert status == 200 and payload["status"] == "degraded"
    assert section["status"] == "degraded"
    assert section["message"].startswith("last send failed: SMTP connect failed")
    assert section["data"]["last_send"]["error"] == "SMTPConnectError"


def test_probe_ok_reports_the_tls_actually_used(mail_app, mail_env, smtp_ca, smtp_cert):
    with SMTPTestServer(tls="starttls", certificate=smtp_cert, users={USER: PASSWORD}) as server:
        app = mail_app(
            mail_env(
                server.port,
                SMTP_HEALTH_PROBE="true",
                SMTP_CA_FILE=smtp_ca.ca_file,
                SMTP_USERNAME=USER,
                SMTP_PASSWORD=PASSWORD,
            )
        )
        status, payload = rich(app)
    section = payload["checks"]["mail"]
    assert status == 200 and section["status"] == "ok", section
    assert section["data"]["probe"]["status"] == "ok"
    assert section["data"]["probe"]["tls"] == "starttls"
    assert section["data"]["auth"] is True
    assert server.verbs == ["EHLO", "STARTTLS", "EHLO", "NOOP", "QUIT"]  # never AUTH
    assert server.auth_attempts == []
    assert PASSWORD not in str(payload)


def test_probe_failure_is_degraded_not_fail(mail_app, mail_env):
    with ClosedPort() as closed:
        app = mail_app(mail_env(closed.port, SMTP_HEALTH_PROBE="true"))
        status, payload = rich(app)
    section = payload["checks"]["mail"]
    assert status == 200 and payload["status"] == "degraded"
    assert section["status"] == "degraded" and section["critical"] is False
    assert section["message"].startswith(f"probe failed: SMTP connect failed on {LOOPBACK}")
    assert section["data"]["probe"]["error"] == "SMTPConnectError"


def test_probe_untrusted_certificate_is_degraded(mail_app, mail_env, smtp_cert):
    # No SMTP_CA_FILE: the throwaway CA is not in the system store.
    with SMTPTestServer(tls="starttls", certificate=smtp_cert) as server:
        app = mail_app(mail_env(server.port, SMTP_HEALTH_PROBE="true", SMTP_TLS="starttls"))
        _, payload = rich(app)
    section = payload["checks"]["mail"]
    assert section["status"] == "degraded"
    assert "certificate not trusted" in section["message"]


def test_a_silent_server_is_cut_off_by_the_probe_within_the_health_timeout(mail_app, mail_env):
    with SilentServer() as silent:
        app = mail_app(
            mail_env(
                silent.port, SMTP_HEALTH_PROBE="true", SMTP_TIMEOUT="10s", HEALTH_TIMEOUT="500ms"
            )
        )
        started = time.monotonic()
        _, payload = rich(app)
        elapsed = time.monotonic() - started
    section = payload["checks"]["mail"]
    assert elapsed < 1.0
    # The probe's own timeout fired first: degraded with a reason, not the runner's "fail".
    assert section["status"] == "degraded", section
    assert "timeout" in section["message"] and section["data"]["probe"]["error"] == "MailTimeout"


def test_the_probe_runs_behind_the_health_cache(mail_app, mail_env):
    with SMTPTestServer() as server:
        app = mail_app(mail_env(server.port, SMTP_HEALTH_PROBE="true", HEALTH_CACHE_TTL="30s"))
        for _ in range(3):
            status, payload = rich(app)
            assert status == 200 and payload["checks"]["mail"]["status"] == "ok"
    assert server.verbs.count("NOOP") == 1
