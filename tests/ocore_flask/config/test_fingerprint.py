"""Secret fingerprints: keyed by this installation's key file (created once, private), equal for
equal secrets under one key, different under another, never an unkeyed hash or the length, and
nothing at all when the key file cannot be read or written."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from pathlib import Path

import pytest

from ocore_flask.config import Config, resolve
from ocore_flask.config.fingerprint import KEY_BYTES, default_key_path, fingerprint, load_key
from ocore_flask.config.secrets import NO_FINGERPRINT
from ocore_flask.discovery import load_plugins
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, dev_environ

WEAK = "sunshine2024"  # the example: recovered in seconds from length + sha256


def host(environ: dict[str, str]) -> Config:
    found = load_plugins(environ, [])
    return resolve(environ, found.settings, found.cross_rules, found.problems)


def shown(key_file: Path | str, secret: str = JWT_SECRET) -> str:
    config = host(dev_environ(JWT_SECRET=secret, OCORE_FINGERPRINT_KEY_FILE=str(key_file)))
    assert config.report.ok, config.report.render_text()
    return config.describe("JWT_SECRET")


def unkeyed_digests(secret: str) -> list[str]:
    data = secret.encode()
    return [hashlib.new(name, data).hexdigest()[:8] for name in ("sha256", "sha1", "md5", "sha512")]


def test_the_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ocore" / "fingerprint.key"
    key = load_key(path)
    assert key is not None and len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == key.hex() + "\n"
    assert load_key(path) == key
    assert os.listdir(path.parent) == ["fingerprint.key"], "no temporary file left behind"


def test_racing_processes_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "fingerprint.key"
    keys: list[bytes | None] = []
    threads = [threading.Thread(target=lambda: keys.append(load_key(path))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 16 and len(set(keys)) == 1 and keys[0] is not None


def test_same_secret_same_fingerprint_on_one_installation(tmp_path: Path) -> None:
    key_file = tmp_path / "fingerprint.key"
    first, second = shown(key_file), shown(key_file)
    assert (
        first == second == f"set (local fingerprint {fingerprint(load_key(key_file), JWT_SECRET)})"
    )
    assert shown(key_file, HEALTH_TOKEN) != first, "another secret, another fingerprint"


def test_another_installation_shows_another_fingerprint(tmp_path: Path) -> None:
    here, there = shown(tmp_path / "a.key"), shown(tmp_path / "b.key")
    assert here.startswith("set (local fingerprint ") and there.startswith(
        "set (local fingerprint "
    )
    assert here != there


@pytest.mark.parametrize("secret", [JWT_SECRET, WEAK + "-padded-to-32-chars-Xy7Q"])
def test_no_unkeyed_hash_and_no_length_is_shown(tmp_path: Path, secret: str) -> None:
    text = shown(tmp_path / "fingerprint.key", secret)
    for digest in unkeyed_digests(secret):
        assert digest not in text
    assert re.fullmatch(r"set \(local fingerprint [0-9a-f]{8}\)", text), "nothing else: no length"


def test_the_fingerprint_cannot_be_recomputed_without_the_key(tmp_path: Path) -> None:
    key_file = tmp_path / "fingerprint.key"
    text = shown(key_file)
    assert fingerprint(bytes(KEY_BYTES), JWT_SECRET) not in text
    assert fingerprint(load_key(key_file), JWT_SECRET) in text


def test_an_unwritable_key_location_shows_no_hash_at_all(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the key's directory should be")
    key_file = blocker / "ocore" / "fingerprint.key"  # root cannot create this either
    text = shown(key_file, WEAK + "-padded-to-32-chars-Xy7Q")
    assert text == NO_FINGERPRINT
    assert not re.search(r"[0-9a-f]{6}", text), "no hash of any kind"
    assert sorted(os.listdir(tmp_path)) == ["not-a-directory"]


def test_a_damaged_key_file_is_left_alone_and_shows_no_hash(tmp_path: Path) -> None:
    key_file = tmp_path / "fingerprint.key"
    key_file.write_text("not a key\n")
    assert shown(key_file) == NO_FINGERPRINT
    assert key_file.read_text() == "not a key\n", "never overwritten"
    directory = tmp_path / "dir.key"
    directory.mkdir()
    assert shown(directory) == NO_FINGERPRINT


def test_the_default_location_follows_xdg_then_home() -> None:
    assert default_key_path({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == "/s/ocore/fingerprint.key"
    assert default_key_path({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == (
        "/h/.local/state/ocore/fingerprint.key"
    )
    assert default_key_path({"HOME": "/h"}) == "/h/.local/state/ocore/fingerprint.key"


def test_the_key_file_setting_is_derived_and_checked(tmp_path: Path) -> None:
    config = host(dev_environ())
    assert config.sources["OCORE_FINGERPRINT_KEY_FILE"] == "derived"
    assert config["OCORE_FINGERPRINT_KEY_FILE"] == default_key_path()
    bad = host(dev_environ(OCORE_FINGERPRINT_KEY_FILE="relative/fingerprint.key"))
    (problem,) = bad.report.errors
    assert problem.variable == "OCORE_FINGERPRINT_KEY_FILE" and "absolute path" in problem.message
    assert bad.describe("JWT_SECRET") == NO_FINGERPRINT, "an invalid location is not replaced"


def test_a_secret_read_by_code_touches_no_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "fingerprint.key"
    config = host(dev_environ(OCORE_FINGERPRINT_KEY_FILE=str(key_file)))
    assert config["JWT_SECRET"].reveal() == JWT_SECRET
    assert not key_file.exists(), "only showing a secret reads or creates the key"
    repr(config["JWT_SECRET"])
    assert key_file.exists()
