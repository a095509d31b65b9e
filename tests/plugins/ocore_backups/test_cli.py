"""``ocore backups`` in-process: policies with every kind of bad input, a run with --wait and
no worker (in this process), list, status, verify, restore, prune; ``--json`` everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

import ocore_backups
from ocore_backups import InvalidPolicy, NoDestination
from ocore_backups.testing import make_tree, tree_snapshot
from ocore_flask.testing import cli_json

POLICY = [
    "--server",
    "db1",
    "--command",
    "echo data",
    "--restore-command",
    "cat > /dev/null",
    "--schedule",
    "30 2 * * *",
    "--max-age",
    "26h",
    "--grace",
    "2h",
]


def test_policy_add_list_show_remove(cli) -> None:
    added = cli(
        "backups",
        "policy",
        "add",
        "nightly",
        *POLICY,
        "--keep",
        "7",
        "--keep-within",
        "168h",
        "--json",
    )
    assert added.exit_code == 0, added.output
    policy = cli_json(added)["policy"]
    assert policy["max_age"] == "26h0m0s" and policy["grace"] == "2h0m0s"
    assert policy["keep_last"] == 7 and policy["keep_within"] == "168h0m0s"
    assert policy["next_run_at"].endswith("02:30:00+00:00")

    listed = cli_json(cli("backups", "policy", "list", "--json"))
    assert [p["name"] for p in listed] == ["nightly"]
    text = cli("backups", "policy", "list").output
    assert "nightly" in text and "last 7 or within 168h0m0s" in text
    shown = cli("backups", "policy", "show", "nightly")
    assert "30 2 * * * (UTC; next" in shown.output

    removed = cli("backups", "policy", "remove", "nightly", "--json")
    assert cli_json(removed) == {"removed": "nightly", "files_kept": []}
    missing = cli("backups", "policy", "show", "nightly", "--json")
    assert missing.exit_code == 1
    assert "no backup policy named 'nightly'" in missing.stderr


def test_a_server_with_policies_cannot_be_removed_until_they_are(cli) -> None:
    assert cli("backups", "policy", "add", "nightly", *POLICY).exit_code == 0
    refused = cli("ssh", "remove", "db1")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        "error: server 'db1' is still used by rows in backup_policies; "
        "remove those first, then the server"
    ]
    assert [p["name"] for p in cli_json(cli("backups", "policy", "list", "--json"))] == ["nightly"]
    assert cli("backups", "policy", "remove", "nightly").exit_code == 0
    assert cli_json(cli("ssh", "remove", "db1", "--json")) == {"removed": "db1"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--server": "nowhere"}, "no server named 'nowhere'"),
        ({"--schedule": "every day"}, "schedule 'every day' is not a cron expression"),
        ({"--schedule": "* * * * * */5"}, "is not a cron expression: five fields"),
        ({"--schedule": "61 * * * *"}, "is not a cron expression"),
        ({"--max-age": "1 day"}, "--max-age: time: "),
        ({"--max-age": "0s"}, "--max-age must be > 0"),
        ({"--grace": "-1h"}, "--grace must be >= 0"),
        ({"--keep-within": "soon"}, "--keep-within: time: invalid duration"),
        ({"--keep": "0"}, "--keep must be at least 1"),
        ({"--command": "  "}, "the backup command must not be empty"),
    ],
)
def test_bad_policies_are_refused_with_a_clear_message(cli, change, message) -> None:
    args = list(POLICY)
    for option, value in change.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    result = cli("backups", "policy", "add", "bad", *args, "--json")
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""
    assert cli_json(cli("backups", "policy", "list", "--json")) == []


def test_bad_names_and_duplicates_are_refused(cli) -> None:
    assert cli("backups", "policy", "add", "ok", *POLICY).exit_code == 0
    duplicate = cli("backups", "policy", "add", "ok", *POLICY)
    assert duplicate.exit_code == 1 and "a policy named 'ok' already exists" in duplicate.stderr
    for name in ("../etc", "Upper", "_under", "a" * 65):
        bad = cli("backups", "policy", "add", name, *POLICY)
        assert bad.exit_code == 1 and "must be 1-64 lowercase letters" in bad.stderr


def test_without_backup_dir_a_policy_is_refused(app: Flask) -> None:
    """Outside development BACKUP_DIR is required once a policy exists: the service has no
    destination then, and refuses the first policy with the fix."""
    service = ocore_backups.backups(app)
    options = {
        "command": "x",
        "restore_command": "x",
        "schedule": "@daily",
        "max_age": "1h",
        "grace": "1h",
    }
    with pytest.raises(InvalidPolicy, match="no server named 'ghost'"):
        service.add_policy("p", server="ghost", **options)
    service.destination = None
    with pytest.raises(NoDestination, match="BACKUP_DIR=/var/lib/ocore/backups"):
        service.add_policy("p", server="db1", **options)
    assert service.policies.list() == []


def test_development_defaults_to_the_instance_folder(backups_app, tmp_path: Path) -> None:
    app = backups_app(BACKUP_DIR="")
    assert ocore_backups.backups(app).destination.describe() == str(
        Path(app.instance_path) / "backups"
    )


def test_run_wait_without_a_worker_then_list_verify_restore(
    cli, remote_folder, backups_env
) -> None:
    source, target = make_tree(remote_folder()), remote_folder()
    args = list(POLICY)
    args[args.index("--command") + 1] = f"tar -C {source} -cf - ."
    args[args.index("--restore-command") + 1] = f"tar -C {target} -xf -"
    assert cli("backups", "policy", "add", "tree", *args).exit_code == 0

    ran = cli("backups", "run", "tree", "--wait", "--json")
    assert ran.exit_code == 0, ran.output
    result = cli_json(ran)
    assert result["status"] == "succeeded" and isinstance(result["id"], int)
    assert result["run"]["job_id"] is None  # no worker alive: it ran in this process
    run_id = str(result["id"])

    listed = cli_json(cli("backups", "list", "tree", "--json"))
    assert [r["id"] for r in listed] == [result["id"]]
    assert listed[0]["sha256"] == result["run"]["sha256"]
    text = cli("backups", "list").output
    assert "succeeded" in text and result["run"]["sha256"][:16] in text

    verified = cli("backups", "verify", "--all", "--json")
    assert verified.exit_code == 0 and cli_json(verified)["failed"] == 0

    refused = cli("backups", "restore", run_id, "--json")
    assert refused.exit_code == 1 and "add --yes" in refused.stderr
    declined = cli("backups", "restore", run_id, input="n\n")
    assert declined.exit_code == 1 and tree_snapshot(target) == {}
    restored = cli("backups", "restore", run_id, "--yes", "--json")
    assert restored.exit_code == 0, restored.output
    assert cli_json(restored)["exit_status"] == 0 and cli_json(restored)["checksum_ok"]
    assert tree_snapshot(target) == tree_snapshot(source)

    status = cli_json(cli("backups", "status", "--json"))
    assert status["status"] == "ok" and status["counts"]["ok"] == 1
    assert status["policies"][0]["state"] == "ok"
    pruned = cli_json(cli("backups", "prune", "tree", "--json"))
    assert pruned == {"policy": "tree", "pruned": []}

    stored = Path(backups_env["BACKUP_DIR"]) / result["run"]["path"]
    assert stored.is_file()
    removed = cli_json(cli("backups", "policy", "remove", "tree", "--delete-backups", "--json"))
    assert removed == {"removed": "tree", "files_kept": []}
    assert not stored.exists()
    assert cli_json(cli("backups", "list", "--json")) == []  # its history went with it


def test_failures_exit_non_zero_with_the_reason(cli) -> None:
    args = list(POLICY)
    args[args.index("--command") + 1] = "echo 'disk on fire' >&2; exit 4"
    args[args.index("--restore-command") + 1] = "cat > /dev/null; exit 5"
    cli("backups", "policy", "add", "broken", *args)
    ran = cli("backups", "run", "broken", "--wait", "--json")
    assert ran.exit_code == 1
    assert cli_json(ran)["status"] == "failed"
    assert cli_json(ran)["run"]["stderr_line"] == "disk on fire"
    text = cli("backups", "run", "broken", "--wait")
    assert "failed (exit status 4): the command exited with status 4" in text.output
    assert "last stderr line: disk on fire" in text.output
    not_stored = cli("backups", "verify", str(cli_json(ran)["id"]))
    assert not_stored.exit_code == 1 and "failed: it stored nothing" in not_stored.stderr
    assert cli("backups", "verify").exit_code == 2  # RUN or --all
    status = cli_json(cli("backups", "status", "--json"))
    assert status["status"] == "degraded" and status["counts"]["never"] == 1


def test_restore_exits_with_the_restore_commands_status(cli) -> None:
    args = list(POLICY)
    args[args.index("--restore-command") + 1] = "cat > /dev/null; echo 'no db' >&2; exit 5"
    cli("backups", "policy", "add", "target", *args)
    run_id = cli_json(cli("backups", "run", "target", "--wait", "--json"))["id"]
    restored = cli("backups", "restore", str(run_id), "--yes")
    assert restored.exit_code == 5
    assert "restore command exited with status 5" in restored.output
    assert "last stderr line: no db" in restored.output


def test_run_without_wait_queues_one_job(cli, app: Flask) -> None:
    cli("backups", "policy", "add", "queued", *POLICY)
    first = cli_json(cli("backups", "run", "queued", "--json"))
    again = cli_json(cli("backups", "run", "queued", "--json"))
    assert first["deferred"] is True and again["deferred"] is False
    assert again["job"] == first["job"]  # the queueing lock: one pending job per policy
    import ocore_jobs

    with app.app_context():
        job = ocore_jobs.jobs().job(first["job"])
    assert job.task == "backups.run" and job.args == {"policy": "queued", "trigger": "manual"}
    assert job.queue == "backups"
