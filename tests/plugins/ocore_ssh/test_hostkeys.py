"""Host-key pinning against a real OpenSSH sshd: pin on first use, enforce, refuse changes."""

from __future__ import annotations

import re

import pytest

from ocore_ssh.hostkeys import (
    HostKeyChanged,
    SSHError,
    fingerprint,
    host_key_name,
    key_line,
    parse_key_line,
)
from ocore_ssh.pool import PasswordAuth, SSHPool, SSHTarget
from ocore_ssh.testing import Sshd


def target(server: Sshd, name: str = "db1", pinned: str | None = None) -> SSHTarget:
    return SSHTarget(
        name=name,
        host=server.host,
        port=server.port,
        username=server.user,
        auth=PasswordAuth(server.password),
        pinned_host_key=pinned,
    )


def test_key_line_helpers_match_openssh(sshd: Sshd) -> None:
    for key_type, line in sshd.host_public_keys.items():
        key = parse_key_line(line + " some comment")
        assert key_line(key) == line
        assert fingerprint(line) == fingerprint(key) == sshd.host_key_fingerprints[key_type]
    assert host_key_name("example.org", 22) == "example.org"
    assert host_key_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"
    for bad in ("", "ssh-ed25519", "ssh-ed25519 !!!notbase64", "ssh-nope AAAA"):
        with pytest.raises(ValueError):
            parse_key_line(bad)
    with pytest.raises(ValueError):  # type does not match the key data
        parse_key_line("ssh-rsa " + sshd.host_public_keys["ed25519"].split()[1])


def test_first_use_pins_once(sshd: Sshd) -> None:
    pins: list[tuple[str, str]] = []
    with SSHPool(on_pin=lambda name, line: pins.append((name, line))) as pool:
        pool.run(target(sshd), "true")
        assert pins == [("db1", sshd.host_public_keys["ed25519"])]
        # Later connections (even new ones) are checked against the learned key, not re-pinned.
        with pool.connection(target(sshd)), pool.connection(target(sshd)):
            pass
        assert len(pins) == 1


def test_matching_pin_connects_without_repinning(sshd: Sshd) -> None:
    pins: list[tuple[str, str]] = []
    with SSHPool(on_pin=lambda name, line: pins.append((name, line))) as pool:
        for key_type in ("ed25519", "rsa"):  # either host key, whichever was pinned
            pinned = target(sshd, name=f"pinned-{key_type}", pinned=sshd.host_public_keys[key_type])
            with pool.connection(pinned) as conn:
                presented = conn.transport.get_remote_server_key()
                assert key_line(presented) == sshd.host_public_keys[key_type]
    assert pins == []


def test_pin_callback_failure_refuses_connection(sshd: Sshd) -> None:
    def broken(name: str, line: str) -> None:
        raise RuntimeError("database is read-only")

    with SSHPool(on_pin=broken) as pool:
        with pytest.raises(SSHError, match="could not pin.*read-only"):
            pool.run(target(sshd, name="nopin"), "true")
        assert pool.stats()["servers"]["nopin"]["open"] == 0


def test_invalid_pinned_key_is_refused(sshd: Sshd) -> None:
    with SSHPool() as pool, pytest.raises(SSHError, match="pinned host key .* invalid"):
        pool.run(target(sshd, name="garbled", pinned="ssh-ed25519 AAAA"), "true")


def test_changed_host_key_is_refused() -> None:
    pins: list[tuple[str, str]] = []
    with Sshd() as server, SSHPool(on_pin=lambda n, line: pins.append((n, line))) as pool:
        pool.run(target(server, name="web9"), "true")
        old_line = server.host_public_keys["ed25519"]
        old_print = server.host_key_fingerprints["ed25519"]
        assert pins == [("web9", old_line)]

        server.rotate_host_keys()
        new_print = server.host_key_fingerprints["ed25519"]
        assert new_print != old_print

        # Pinned in the database (the target carries the pin): paramiko's own check refuses.
        with pytest.raises(HostKeyChanged) as caught:
            pool.run(target(server, name="web9", pinned=old_line), "true")
        err = caught.value
        assert err.server == "web9"
        assert (err.expected_fingerprint, err.presented_fingerprint) == (old_print, new_print)
        message = str(err)
        assert "web9" in message and old_print in message and new_print in message
        # Outside a command the fix names the `ocore` console script, not `flask ocore`.
        assert "`ocore ssh forget-host-key web9`, then `ocore ssh pin web9`" in message
        assert "flask" not in message

        # Pin not yet persisted by the caller: the pool still remembers what it learned.
        with pytest.raises(HostKeyChanged, match=re.escape(new_print)):
            pool.run(target(server, name="web9"), "true")

        stats = pool.stats()["servers"]["web9"]
        assert stats["failures"] == 2
        assert stats["open"] == 0
        assert "has changed" in stats["last_error"]

        # Deliberate re-pin: forget, and the next connection pins the new key.
        pool.forget_host_key("web9")
        assert pool.run(target(server, name="web9"), "echo ok").stdout == "ok\n"
        assert pins[-1] == ("web9", server.host_public_keys["ed25519"])
