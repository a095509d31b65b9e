"""``ocore gateway``: refusing to run when off or when the port is taken, the host key, users'
keys and grants; ``--json`` everywhere, one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask.cli import ScriptInfo

from ocore_auth.testing import create_user
from ocore_flask.app import create_app
from ocore_flask.cli import ocore
from ocore_gateway.testing import add_backend, gateway_plugins, keygen
from ocore_ssh.testing import Sshd

Invoke = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, gateway_env: dict[str, str]) -> Invoke:
    """``cli("keys", "list")``: ``ocore gateway …`` in-process with the module's environment."""
    for name, value in gateway_env.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str, input: str | None = None) -> Result:
        info = ScriptInfo(create_app=lambda: create_app(dict(gateway_env), gateway_plugins()))
        return CliRunner().invoke(ocore, ["gateway", *args], obj=info, input=input)

    return invoke


def one_line_error(result: Result, code: int, fragment: str) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def test_refuses_to_run_while_switched_off(cli: Invoke, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SSH_GATEWAY_ENABLED", "false")
    one_line_error(cli(), 78, "the SSH gateway is switched off (SSH_GATEWAY_ENABLED is not true)")


def test_refuses_a_busy_port_with_69(cli: Invoke, gateway_env: dict[str, str]):
    port = int(gateway_env["SSH_LISTEN_ADDR"].rsplit(":", 1)[1])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        one_line_error(cli(), 69, f"cannot listen on 127.0.0.1:{port} (SSH_LISTEN_ADDR)")


def test_host_key_is_made_once_and_matches_ssh_keygen(cli: Invoke, tmp_path: Path):
    first = cli("host-key", "--json")
    assert first.exit_code == 0, first.output
    info = json.loads(first.stdout)
    assert info["algorithm"] == "ssh-ed25519"
    assert json.loads(cli("host-key", "--json").stdout) == info  # generated once
    (tmp_path / "gw.pub").write_text(info["public_key"] + "\n")
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "gw.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert info["fingerprint"] == printed
    assert info["known_hosts"].endswith(info["public_key"])
    text = cli("host-key")
    assert text.stdout.splitlines()[:2] == [info["public_key"], info["fingerprint"]]


def test_the_host_key_is_encrypted_in_the_vault_and_cannot_be_deleted(cli: Invoke, gateway_app):
    import ocore_vault

    cli("host-key")
    vault = ocore_vault.credentials(gateway_app)
    stored = vault.get("ocore-gateway-host-key")
    assert stored.kind.value == "private_key"
    assert "PRIVATE KEY" in stored.secret()  # decrypts with the vault's key…
    from ocore_vault import VaultError

    with pytest.raises(VaultError, match="gateway_host_key"):
        vault.delete("ocore-gateway-host-key")  # …and is protected by the gateway's record


def test_keys_add_list_remove(cli: Invoke, gateway_app, tmp_path: Path):
    create_user(gateway_app, "keys@example.com", "operator")
    key = keygen(tmp_path, "laptop")
    added = cli("keys", "add", "keys@example.com", str(key.path) + ".pub", "--json")
    assert added.exit_code == 0, added.output
    body = json.loads(added.stdout)
    assert body["added"]["fingerprint"] == key.fingerprint
    assert body["warning"] is None

    again = cli("keys", "add", "keys@example.com", "-", input=key.public_line)
    one_line_error(again, 1, f"the key {key.fingerprint} is already registered to this user")

    listed = json.loads(cli("keys", "list", "keys@example.com", "--json").stdout)["keys"]
    assert [(k["id"], k["user"]) for k in listed] == [(body["added"]["id"], "keys@example.com")]
    table = cli("keys", "list")
    assert key.fingerprint in table.stdout and "keys@example.com" in table.stdout

    removed = cli("keys", "remove", str(body["added"]["id"]))
    assert removed.exit_code == 0 and key.fingerprint in removed.stdout
    one_line_error(cli("keys", "remove", str(body["added"]["id"])), 1, "no registered SSH key")


def test_keys_add_refusals(cli: Invoke, gateway_app, tmp_path: Path):
    create_user(gateway_app, "weak@example.com", "viewer")
    one_line_error(
        cli("keys", "add", "weak@example.com", "-", input="garbage"), 1, "not an SSH public key"
    )
    one_line_error(
        cli("keys", "add", "nobody@example.com", "-", input="garbage"), 1, "no user has the address"
    )
    rsa = keygen(tmp_path, "rsa", "rsa", 2048)
    warned = cli("keys", "add", "weak@example.com", str(rsa.path) + ".pub")
    assert warned.exit_code == 0, warned.output
    assert warned.stderr.startswith("warning: this RSA key has 2048 bits")
    weak = keygen(tmp_path, "weak", "rsa", 1024)
    one_line_error(
        cli("keys", "add", "weak@example.com", str(weak.path) + ".pub"), 1, "at least 2048"
    )


def test_grant_revoke_and_list(cli: Invoke, gateway_app, sshd: Sshd):
    add_backend(gateway_app, sshd, "granted1")
    create_user(gateway_app, "view@example.com", "viewer")
    create_user(gateway_app, "ops@example.com", "operator")
    assert cli("grant", "view@example.com", "granted1").stdout.strip() == (
        "view@example.com may now reach granted1"
    )
    assert "could already" in cli("grant", "view@example.com", "granted1").stdout
    listed = json.loads(cli("grants", "--json").stdout)["grants"]
    assert [(g["user"], g["server"]) for g in listed] == [("view@example.com", "granted1")]
    one_line_error(cli("grant", "ops@example.com", "granted1"), 1, "reaches every server")
    one_line_error(cli("grant", "view@example.com", "nosuch"), 1, "no server named 'nosuch'")
    revoked = cli("revoke", "view@example.com", "granted1", "--json")
    assert json.loads(revoked.stdout)["revoked"] is True
    assert "had no grant" in cli("revoke", "view@example.com", "granted1").stdout
