"""``ocore vault …`` through click's CliRunner, as mounted by the ``ocore`` group from the
installed plugins; the environment comes from monkeypatch.setenv, never from the shell."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa

from ocore_flask.cli import ocore
from ocore_flask.testing import JWT_SECRET
from ocore_ssh.testing import body_lines, ed25519_openssh

PASSWORD = "Cli-Password-Jq4Wm7"


class Cli:
    """Runs ``ocore`` commands and keeps every output, to check none shows a secret."""

    def __init__(self) -> None:
        self.runner = CliRunner()
        self.outputs: list[str] = []

    def __call__(self, *args: str, input: str | bytes | None = None) -> Result:
        result = self.runner.invoke(ocore, list(args), input=input, catch_exceptions=False)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def assert_never_shown(self, *secrets: str) -> None:
        text = "\n".join(self.outputs)
        assert "Traceback" not in text
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def cli(monkeypatch, vault_env) -> Cli:
    for name, value in vault_env.items():
        monkeypatch.setenv(name, value)
    # Only this plugin and what it needs, so other plugins cannot change what these tests see.
    monkeypatch.setenv("OCORE_DISABLED_PLUGINS", "mail,ssh,agents,backups,gateway")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    return Cli()


def one_error_line(result: Result) -> str:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_password_put_list_verify_status_delete(cli: Cli, vault_keys):
    put = cli("vault", "put", "web-1", "--kind", "password", "-u", "root", input=PASSWORD + "\n")
    assert put.exit_code == 0, put.stderr
    assert "stored password as 'web-1' for user root" in put.stdout
    assert f"key id {vault_keys.key_id(vault_keys.a)}, active" in put.stdout

    listed = cli("vault", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[0].split()[:3] == ["NAME", "KIND", "USERNAME"]
    assert "web-1" in listed.stdout and "root" in listed.stdout
    as_json = json.loads(cli("vault", "list", "--json").stdout)
    assert [(c["name"], c["kind"], c["key"]) for c in as_json] == [("web-1", "password", "active")]

    verify = cli("vault", "verify")
    assert verify.exit_code == 0 and "verified 1 credential(s): all readable" in verify.stdout

    status = cli("vault", "status")
    assert status.exit_code == 0
    assert f"active key id: {vault_keys.key_id(vault_keys.a)} (SSH_ENCRYPTION_KEY)" in status.stdout
    assert f"{vault_keys.key_id(vault_keys.a)}  1     active" in status.stdout

    again = cli("vault", "put", "web-1", "--kind", "password", input="Other-Password-1\n")
    assert "already exists" in one_error_line(again)
    replaced = cli(
        "vault", "put", "web-1", "--kind", "password", "--replace", input="Other-Password-1\n"
    )
    assert replaced.exit_code == 0 and "version 2" in replaced.stdout

    deleted = cli("vault", "delete", "web-1")
    assert deleted.exit_code == 0 and "deleted 'web-1'" in deleted.stdout
    assert cli("vault", "list").stdout.strip() == "no credentials stored"
    assert "no credential named 'web-1'" in one_error_line(cli("vault", "delete", "web-1"))
    cli.assert_never_shown(PASSWORD, "Other-Password-1", vault_keys.a, JWT_SECRET)


def test_private_keys_from_a_file_and_from_stdin(cli: Cli, tmp_path, vault_keys):
    protected = ed25519_openssh(vault_keys.passphrase)
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(protected)
    put = cli(
        "vault",
        "put",
        "deploy",
        "--kind",
        "private-key",
        "--key-file",
        str(key_file),
        "--passphrase-stdin",
        "-u",
        "deploy",
        input=vault_keys.passphrase + "\n",
    )
    assert put.exit_code == 0, put.stderr
    assert "stored private key SHA256:" in put.stdout and "passphrase-protected" in put.stdout

    plain = ed25519_openssh()
    put = cli("vault", "put", "ci", "--kind", "private-key", "--key-file", "-", input=plain)
    assert put.exit_code == 0, put.stderr

    listed = cli("vault", "list").stdout
    assert "private_key (passphrase)" in listed and "SHA256:" in listed
    assert cli("vault", "verify").exit_code == 0
    cli.assert_never_shown(vault_keys.passphrase, *body_lines(protected), *body_lines(plain))


def test_refusals_are_one_clear_line(cli: Cli, tmp_path, vault_keys):
    protected = ed25519_openssh(vault_keys.passphrase)
    encrypted = tmp_path / "encrypted"
    encrypted.write_text(protected)
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("just some notes\n")
    dsa_file = tmp_path / "id_dsa"
    dsa_file.write_bytes(
        dsa.generate_private_key(key_size=1024).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key = ("vault", "put", "k", "--kind", "private-key", "--key-file")
    cases = [
        (cli(*key, str(dsa_file)), "DSA keys are not supported"),
        (cli(*key, str(not_a_key)), "not a private key"),
        (cli(*key, str(tmp_path / "missing")), "cannot read key file"),
        (cli(*key, str(encrypted)), "--passphrase-stdin"),
        (cli(*key, str(encrypted), "--passphrase-stdin", input="wrong\n"), "passphrase does not"),
        (cli("vault", "put", "p", "--kind", "password", input="\n"), "password is empty"),
        (cli("vault", "put", "bad name", "--kind", "password", input="x\n"), "credential name"),
    ]
    for result, expected in cases:
        line = one_error_line(result)
        assert line.startswith("error: ") and expected in line, line
        assert result.exit_code == 1

    usage = cli("vault", "put", "p", "--kind", "password", "--key-file", str(encrypted))
    assert usage.exit_code == 2 and "--kind private-key" in usage.stderr
    both = cli(*key, "-", "--passphrase-stdin", input=protected)
    assert both.exit_code == 2 and "stdin cannot carry both" in both.stderr
    assert cli("vault", "list").stdout.strip() == "no credentials stored"
    cli.assert_never_shown(vault_keys.passphrase, *body_lines(protected))


def test_rotate_and_status_after_a_key_change(cli: Cli, monkeypatch, vault_keys):
    for i in range(3):
        cli("vault", "put", f"web-{i}", "--kind", "password", input=f"{PASSWORD}-{i}\n")
    monkeypatch.setenv("SSH_ENCRYPTION_KEY", vault_keys.b)
    monkeypatch.setenv("SSH_ENCRYPTION_KEY_PREVIOUS", vault_keys.a)

    before = json.loads(cli("vault", "status", "--json").stdout)
    assert before["active_key_id"] == vault_keys.key_id(vault_keys.b)
    assert before["keys"] == [
        {"key_id": vault_keys.key_id(vault_keys.b), "rows": 0, "key": "active"},
        {"key_id": vault_keys.key_id(vault_keys.a), "rows": 3, "key": "previous #1"},
    ]
    assert before["rows_on_previous_keys"] == 3
    assert "run `ocore vault rotate`" in cli("vault", "status").stdout

    rotated = cli("vault", "rotate", "--batch-size", "2")
    assert rotated.exit_code == 0, rotated.stderr
    new_id = vault_keys.key_id(vault_keys.b)
    assert f"rotated 3 credential(s) to key id {new_id} in 2 batch(es)" in rotated.stdout
    assert "previous keys can leave SSH_ENCRYPTION_KEY_PREVIOUS" in rotated.stdout
    after = json.loads(cli("vault", "status", "--json").stdout)
    assert after["keys"][1] == {
        "key_id": vault_keys.key_id(vault_keys.a),
        "rows": 0,
        "key": "previous #1",
    }

    monkeypatch.delenv("SSH_ENCRYPTION_KEY_PREVIOUS")
    assert cli("vault", "verify").exit_code == 0
    assert cli("vault", "rotate", "--batch-size", "0").exit_code == 2
    cli.assert_never_shown(PASSWORD, vault_keys.a, vault_keys.b)


def test_repair_commands_run_when_rows_are_on_an_unknown_key(
    cli: Cli, monkeypatch, make_app, vault_keys
):
    for name in ("old-1", "old-2"):
        cli("vault", "put", name, "--kind", "password", input=PASSWORD + "\n")
    monkeypatch.setenv("SSH_ENCRYPTION_KEY", vault_keys.b)

    status = cli("vault", "status")
    assert status.exit_code == 0
    assert f"{vault_keys.key_id(vault_keys.a)}  2     UNKNOWN" in status.stdout
    assert "2 credential(s) on UNKNOWN key ids" in status.stdout

    verify = cli("vault", "verify")
    assert verify.exit_code == 1
    assert "FAILED old-1: UnknownKeyId" in verify.stderr and "FAILED old-2" in verify.stderr
    assert "2 failed (old-1, old-2)" in verify.stdout

    rotate = cli("vault", "rotate")
    assert rotate.exit_code == 1 and "2 credential(s) are still not on the active key" in (
        rotate.stdout
    )
    assert "UNKNOWN" in cli("vault", "list").stdout

    # Anything else refuses to start until the rows are readable or gone.
    health = cli("health")
    assert health.exit_code == 78 and vault_keys.key_id(vault_keys.a) in health.stderr
    for name in ("old-1", "old-2"):
        assert cli("vault", "delete", name).exit_code == 0
    assert cli("health").exit_code != 78
    cli.assert_never_shown(PASSWORD, vault_keys.a, vault_keys.b)


def test_json_put_delete_verify_and_rotate(cli: Cli, monkeypatch, vault_keys):
    put = cli("vault", "put", "web-1", "--kind", "password", "-u", "root", "--json",
              input=PASSWORD + "\n")  # fmt: skip
    assert put.exit_code == 0, put.stderr
    stored = json.loads(put.stdout)
    assert stored["stored"] == "web-1"
    assert stored["credential"]["username"] == "root" and stored["credential"]["key"] == "active"
    assert stored["credential"]["key_id"] == vault_keys.key_id(vault_keys.a)
    cli("vault", "put", "web-2", "--kind", "password", input=PASSWORD + "\n")

    assert json.loads(cli("vault", "verify", "--json").stdout) == {
        "checked": 2,
        "ok": True,
        "failures": [],
    }
    monkeypatch.setenv("SSH_ENCRYPTION_KEY", vault_keys.b)
    monkeypatch.setenv("SSH_ENCRYPTION_KEY_PREVIOUS", vault_keys.a)
    rotated = cli("vault", "rotate", "--batch-size", "1", "--json")
    assert rotated.exit_code == 0 and rotated.stderr == ""
    summary = json.loads(rotated.stdout)
    assert summary["active_key_id"] == vault_keys.key_id(vault_keys.b)
    assert (summary["rotated"], summary["batches"], summary["remaining"]) == (2, 2, 0)
    assert summary["complete"] is True and summary["failures"] == []

    monkeypatch.setenv("SSH_ENCRYPTION_KEY", vault_keys.c)  # both rows are on key B now
    monkeypatch.delenv("SSH_ENCRYPTION_KEY_PREVIOUS")
    failed = cli("vault", "verify", "--json")
    assert failed.exit_code == 1 and "FAILED" not in failed.stderr  # (the log warns, though)
    report = json.loads(failed.stdout)
    assert report["checked"] == 2 and report["ok"] is False
    assert [(f["name"], f["error"]) for f in report["failures"]] == [
        ("web-1", "UnknownKeyId"),
        ("web-2", "UnknownKeyId"),
    ]

    assert json.loads(cli("vault", "delete", "web-1", "--json").stdout) == {"deleted": "web-1"}
    assert cli("vault", "delete", "web-2").exit_code == 0  # no row left on an unknown key
    gone = cli("vault", "delete", "web-1", "--json")
    assert gone.exit_code == 1 and gone.stdout == ""
    assert one_error_line(gone) == "error: no credential named 'web-1'"
    cli.assert_never_shown(PASSWORD, vault_keys.a, vault_keys.b, vault_keys.c)


def test_rotate_shows_progress_per_batch_on_a_terminal(cli: Cli, monkeypatch, vault_keys):
    from ocore_flask.cli import kit

    for i in range(3):
        cli("vault", "put", f"web-{i}", "--kind", "password", input=f"{PASSWORD}-{i}\n")
    monkeypatch.setenv("SSH_ENCRYPTION_KEY", vault_keys.b)
    monkeypatch.setenv("SSH_ENCRYPTION_KEY_PREVIOUS", vault_keys.a)
    monkeypatch.setattr(kit, "_stderr_is_terminal", lambda: True)
    rotated = cli("vault", "rotate", "--batch-size", "2")
    assert rotated.exit_code == 0, rotated.stderr
    assert rotated.stderr.splitlines() == [
        "vault rotate: batch 1: 2 rotated, 0 skipped, 0 failed",
        "vault rotate: batch 2: 3 rotated, 0 skipped, 0 failed",
    ]
    assert "rotated 3 credential(s)" in rotated.stdout
