"""Public keys as users give them: the accepted types, fingerprints exactly as ``ssh-keygen -lf``
prints them, and a clear refusal for everything else."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ocore_gateway.errors import InvalidKey
from ocore_gateway.pubkeys import parse_public_key
from ocore_gateway.testing import keygen


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("pubkeys")
    return {
        "ed25519": keygen(folder, "ed", "ed25519"),
        "nistp256": keygen(folder, "p256", "ecdsa", 256),
        "nistp384": keygen(folder, "p384", "ecdsa", 384),
        "rsa2048": keygen(folder, "rsa2048", "rsa", 2048),
        "rsa1024": keygen(folder, "rsa1024", "rsa", 1024),
        "nistp521": keygen(folder, "p521", "ecdsa", 521),
    }


@pytest.mark.parametrize(
    ("name", "algorithm", "bits"),
    [
        ("ed25519", "ssh-ed25519", 256),
        ("nistp256", "ecdsa-sha2-nistp256", 256),
        ("nistp384", "ecdsa-sha2-nistp384", 384),
        ("rsa2048", "ssh-rsa", 2048),
    ],
)
def test_accepted_keys_fingerprint_like_ssh_keygen(keys, name: str, algorithm: str, bits: int):
    key = keys[name]
    parsed = parse_public_key(key.public_line)
    assert (parsed.algorithm, parsed.bits) == (algorithm, bits)
    assert parsed.fingerprint == key.fingerprint  # `ssh-keygen -l -E sha256 -f key.pub`
    assert parsed.comment == f"{Path(key.path).name}@test"
    assert parsed.line == " ".join(key.public_line.split()[:2])


def test_rsa_under_4096_bits_is_accepted_with_a_warning(keys):
    assert "2048 bits; 4096" in parse_public_key(keys["rsa2048"].public_line).warning
    assert parse_public_key(keys["ed25519"].public_line).warning is None


def test_a_pub_file_with_blank_and_comment_lines_and_crlf(keys):
    text = f"# my laptop\r\n\r\n{keys['ed25519'].public_line}\r\n"
    assert parse_public_key(text).fingerprint == keys["ed25519"].fingerprint


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("rsa1024", "1024 bits; the gateway needs at least 2048"), ("nistp521", "nistp521")],
)
def test_weak_or_unsupported_generated_keys(keys, name: str, fragment: str):
    with pytest.raises(InvalidKey, match=fragment):
        parse_public_key(keys[name].public_line)


def _blob(*parts: bytes) -> str:
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


ED = "ssh-ed25519 " + _blob(b"ssh-ed25519", b"\x01" * 32)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no public key given"),
        ("hello world", "not an SSH public key line"),
        ("ssh-ed25519", "no key data"),
        ("ssh-ed25519 !!!notbase64", "not valid base64"),
        (
            "ssh-ed25519 " + _blob(b"ssh-rsa", b"\x01\x00\x01", b"\x00" * 9),
            "type and data disagree",
        ),
        ("ssh-ed25519 " + _blob(b"ssh-ed25519", b"\x01" * 5), "damaged"),
        ("ssh-ed25519 AAAA", "truncated"),
        ("ssh-dss " + _blob(b"ssh-dss"), "DSA keys are not accepted"),
        ("sk-ssh-ed25519@openssh.com AAAA", "FIDO security keys"),
        ("ssh-ed25519-cert-v01@openssh.com AAAA", "certificates are not accepted"),
        (f'from="10.0.0.1" {ED}', "options before the key"),
        (f"{ED}\n{ED}", "exactly one public key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----",
            "private key",
        ),
        ("---- BEGIN SSH2 PUBLIC KEY ----", "ssh-keygen -i"),
        (f"{ED} comment\x07bell", "control characters"),
        ("x" * 20_000, "longer than"),
    ],
)
def test_garbage_is_refused_with_a_clear_reason(text: str, fragment: str):
    with pytest.raises(InvalidKey, match=fragment) as caught:
        parse_public_key(text)
    assert "\n" not in str(caught.value)
