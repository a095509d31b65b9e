"""``ssh.check_servers``, the ssh plugin's periodic task, run by the real ``ocore worker``
(console entry, every installed plugin) against a real sshd: a pinned server is logged into, an
unpinned one is only asked for its key (nothing is pinned by a background job), a dead one
fails; the outcome shows in ``ocore ssh list`` and in the ``ssh_pool`` health section."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

import ocore_database
import ocore_jobs
import ocore_ssh
import ocore_vault
from ocore_flask import create_app
from ocore_flask.cli import ocore
from ocore_flask.testing import free_port, rich_health
from ocore_jobs import jobs
from ocore_jobs.testing import WorkerProcess, wait_for_job
from ocore_ssh import ssh
from ocore_ssh.testing import Sshd

VAULT_KEY = "jobs-test-vault-Hq3Xr8Lm2Vw6Tz9Pc4Nb7Kd1"
PLUGINS = [ocore_database.plugin, ocore_vault.plugin, ocore_ssh.plugin, ocore_jobs.plugin]


@pytest.fixture
def ssh_env(jobs_env: dict[str, str]) -> dict[str, str]:
    return {**jobs_env, "SSH_ENCRYPTION_KEY": VAULT_KEY, "SSH_CONNECT_TIMEOUT": "3s"}


def test_check_servers_runs_in_the_worker_and_records_each_outcome(
    ssh_env, make_app, sshd: Sshd, clean, monkeypatch
):
    app = make_app(ssh_env, PLUGINS)
    service = ssh(app)
    ocore_vault.credentials(app).put("pw", "password", sshd.password, username=sshd.user)
    service.add("web1", sshd.host, port=sshd.port, credential="pw")
    service.check("web1")  # pins its key: the only pin in this test
    pinned = service.servers.get("web1").host_key
    service.add("web2", sshd.host, port=sshd.port, credential="pw")
    service.add("down", "127.0.0.1", port=free_port(), credential="pw", host_key=pinned)

    with WorkerProcess(ssh_env, cli=True, queues=["default"], concurrency=2) as worker:
        job_id = jobs(app).defer("ssh.check_servers")
        assert wait_for_job(clean, job_id, timeout=30) == "succeeded"
        assert worker.stop() == 0
    assert worker.report()["jobs"]["failed"] == 0

    rows = {s.name: s for s in service.servers.list()}
    assert (rows["web1"].last_check_status, rows["web1"].last_check_error) == ("ok", None)
    assert rows["web2"].last_check_status == "unpinned" and rows["web2"].host_key is None
    assert "ssh pin web2" in rows["web2"].last_check_error
    assert rows["down"].last_check_status == "failed"
    assert "down" in rows["down"].last_check_error and "\n" not in rows["down"].last_check_error
    assert all(row.last_check_at is not None for row in rows.values())

    for name, value in ssh_env.items():
        monkeypatch.setenv(name, value)

    def info() -> ScriptInfo:
        return ScriptInfo(create_app=lambda: create_app(plugins=PLUGINS))

    listed = CliRunner().invoke(ocore, ["ssh", "list", "--json"], obj=info())
    assert listed.exit_code == 0, listed.output
    by_name = {s["name"]: s for s in json.loads(listed.stdout)}
    assert by_name["web1"]["last_check_status"] == "ok" and by_name["web1"]["last_check_at"]
    listing = CliRunner().invoke(ocore, ["ssh", "list"], obj=info())
    assert listing.exit_code == 0, listing.output
    table = listing.stdout.splitlines()
    assert table[0].split()[-2:] == ["LAST", "CHECK"]
    assert any(line.startswith("down") and "failed " in line for line in table)
    assert any(line.startswith("web1") and " ok " in line for line in table)

    status, payload = rich_health(app)
    section = payload["checks"]["ssh_pool"]
    assert status == 200 and section["status"] == "degraded"
    assert section["message"] == "last check failed: down"
    checks = section["data"]["last_checks"]
    assert {name: c["status"] for name, c in checks.items()} == {
        "web1": "ok",
        "web2": "unpinned",
        "down": "failed",
    }


def test_check_servers_is_offered_as_a_periodic_task(ssh_env, make_app):
    registry = jobs(make_app(ssh_env, PLUGINS)).registry
    spec = registry["ssh.check_servers"]
    assert (spec.owner, spec.schedule, spec.queue) == ("ssh", "*/5 * * * *", "default")
