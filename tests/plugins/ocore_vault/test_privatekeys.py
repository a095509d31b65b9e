"""SSH private keys validated on the way into the vault: every type, format and failure."""

from __future__ import annotations

import base64
import hashlib
import pickle
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519

from ocore_vault.privatekeys import (
    MAX_KEY_TEXT_SIZE,
    KeyFormatError,
    ParsedKey,
    PassphraseRequired,
    PrivateKeyError,
    UnsupportedKeyType,
    WrongPassphrase,
    load_private_key,
)

PASSPHRASE = "correct horse battery"
SSH_KEYGEN = shutil.which("ssh-keygen")
OPENSSL = shutil.which("openssl")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen not installed")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")

PARAMIKO_CLASS = {
    "ed25519": paramiko.Ed25519Key,
    "ecdsa": paramiko.ECDSAKey,
    "rsa": paramiko.RSAKey,
}


def generate(
    spec: str,
) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if spec == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if spec.startswith("ecdsa-"):
        curve = {"256": ec.SECP256R1(), "384": ec.SECP384R1(), "521": ec.SECP521R1()}
        return ec.generate_private_key(curve[spec.split("-")[1]])
    return rsa.generate_private_key(public_exponent=65537, key_size=int(spec.split("-")[1]))


def serialize(key: object, fmt: str, passphrase: str | None = None) -> str:
    """Key text as the usual tools write it; OpenSSH bcrypt kept at 1 round for speed."""
    encryption: serialization.KeySerializationEncryption
    private_format = {
        "openssh": serialization.PrivateFormat.OpenSSH,
        "pem": serialization.PrivateFormat.TraditionalOpenSSL,
        "pkcs8": serialization.PrivateFormat.PKCS8,
    }[fmt]
    if passphrase is None:
        encryption = serialization.NoEncryption()
    elif fmt == "openssh":
        encryption = private_format.encryption_builder().kdf_rounds(1).build(passphrase.encode())
    else:
        encryption = serialization.BestAvailableEncryption(passphrase.encode())
    return key.private_bytes(serialization.Encoding.PEM, private_format, encryption).decode()  # type: ignore[attr-defined]


def body_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("-----")]


def assert_no_key_material(exc: BaseException, *texts: str) -> None:
    """The error says what is wrong without quoting the key or chaining an error that does."""
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None
    shown = str(exc) + repr(exc) + repr(exc.args) + repr(vars(exc))
    for text in texts:
        for line in body_lines(text):
            assert line[:16] not in shown
    assert PASSPHRASE not in shown


def reference_fingerprint(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


KEY_SPECS = {
    "ed25519": ("ed25519", 256, "ssh-ed25519"),
    "ecdsa-256": ("ecdsa", 256, "ecdsa-sha2-nistp256"),
    "ecdsa-384": ("ecdsa", 384, "ecdsa-sha2-nistp384"),
    "ecdsa-521": ("ecdsa", 521, "ecdsa-sha2-nistp521"),
    "rsa-2048": ("rsa", 2048, "ssh-rsa"),
}
CASES = [
    (spec, fmt, encrypted)
    for spec in KEY_SPECS
    for fmt in ("openssh", "pem", "pkcs8")
    for encrypted in (False, True)
    if not (spec == "ed25519" and fmt == "pem")  # Ed25519 has no traditional PEM form
]


@pytest.fixture(scope="module")
def keys() -> dict[str, object]:
    return {spec: generate(spec) for spec in KEY_SPECS}


@pytest.mark.parametrize(("spec", "fmt", "encrypted"), CASES)
def test_every_type_and_format_loads(
    keys: dict[str, object], spec: str, fmt: str, encrypted: bool
) -> None:
    key = keys[spec]
    kind, bits, algorithm = KEY_SPECS[spec]
    passphrase = PASSPHRASE if encrypted else None
    text = serialize(key, fmt, passphrase)
    public_line = (
        key.public_key()  # type: ignore[attr-defined]
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )

    parsed = load_private_key(text, passphrase)

    assert (parsed.kind, parsed.bits, parsed.algorithm) == (kind, bits, algorithm)
    assert parsed.public_key == public_line
    assert parsed.fingerprint == reference_fingerprint(public_line)
    assert parsed.encrypted is encrypted
    assert parsed.source_format == fmt
    # Stored as given: still encrypted when it came encrypted, never re-encoded.
    assert parsed.private_key_text == text
    assert load_private_key(text.encode(), passphrase).fingerprint == parsed.fingerprint

    pkey = parsed.to_paramiko()
    assert isinstance(pkey, PARAMIKO_CLASS[kind])
    assert pkey.can_sign()
    assert pkey.fingerprint == parsed.fingerprint  # paramiko's own SHA256 fingerprint
    assert pkey.get_bits() == bits
    public = paramiko.PKey.from_type_string(algorithm, base64.b64decode(public_line.split()[1]))
    signature = pkey.sign_ssh_data(b"challenge", "rsa-sha2-256" if kind == "rsa" else None)
    assert public.verify_ssh_sig(b"challenge", paramiko.Message(signature.asbytes()))

    if encrypted:
        with pytest.raises(PassphraseRequired) as missing:
            load_private_key(text)
        assert_no_key_material(missing.value, text)
        with pytest.raises(PassphraseRequired):
            load_private_key(text, "")
        with pytest.raises(WrongPassphrase) as wrong:
            load_private_key(text, "not the passphrase")
        assert_no_key_material(wrong.value, text)
        assert isinstance(wrong.value, PrivateKeyError) and isinstance(wrong.value, ValueError)
    else:
        # A passphrase for a key that has none is ignored, and nothing to store is reported.
        ignored = load_private_key(text, "unneeded passphrase")
        assert ignored.encrypted is False
        assert ignored.fingerprint == parsed.fingerprint


def test_to_paramiko_gives_independent_keys(keys: dict[str, object]) -> None:
    parsed = load_private_key(serialize(keys["ed25519"], "openssh"))
    first, second = parsed.to_paramiko(), parsed.to_paramiko()
    assert first is not second
    assert first == second


def test_parsed_key_shows_no_secrets(keys: dict[str, object]) -> None:
    text = serialize(keys["rsa-2048"], "pkcs8", PASSPHRASE)
    parsed = load_private_key(text, PASSPHRASE)
    for shown in (repr(parsed), str(parsed)):
        assert parsed.fingerprint in shown
        assert PASSPHRASE not in shown
        for line in body_lines(text):
            assert line[:16] not in shown
    with pytest.raises(TypeError):
        pickle.dumps(parsed)
    with pytest.raises(AttributeError):
        parsed.kind = "rsa"  # type: ignore[misc]
    assert isinstance(parsed, ParsedKey)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: t.replace("\n", "\r"), id="cr"),
        pytest.param(
            lambda t: "\n".join("    " + line + "  " for line in t.splitlines()), id="indent"
        ),
        pytest.param(lambda t: " ".join(t.split()), id="one-line"),
        pytest.param(lambda t: "\ufeff\n\n" + t + "\n\n", id="bom-blank-lines"),
        pytest.param(lambda t: "my server key:\n" + t + "thanks\n", id="surrounding-text"),
        pytest.param(lambda t: t.rstrip("\n"), id="no-final-newline"),
    ],
)
@pytest.mark.parametrize("fmt", ["openssh", "pem", "pkcs8"])
def test_armor_is_canonicalised(keys: dict[str, object], mangle, fmt: str) -> None:
    text = serialize(keys["ecdsa-256"], fmt, PASSPHRASE)
    parsed = load_private_key(mangle(text), PASSPHRASE)
    assert parsed.private_key_text == text
    assert load_private_key(parsed.private_key_text, PASSPHRASE).fingerprint == parsed.fingerprint


@pytest.mark.parametrize(("fmt", "width"), [("openssh", 70), ("pem", 64), ("pkcs8", 64)])
def test_unwrapped_body_is_wrapped_like_the_usual_tools(
    keys: dict[str, object], fmt: str, width: int
) -> None:
    text = serialize(keys["rsa-2048"], fmt)
    lines = text.splitlines()
    encoded = "".join(lines[1:-1])
    unwrapped = f"{lines[0]}\n{encoded}\n{lines[-1]}\n"
    wrapped = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    expected = "\n".join([lines[0], *wrapped, lines[-1]]) + "\n"
    assert load_private_key(unwrapped).private_key_text == expected


def test_openssh_damage_outside_the_checked_fields_is_caught(keys: dict[str, object]) -> None:
    text = serialize(keys["ecdsa-256"], "openssh")
    lines = text.splitlines()
    raw = bytearray(base64.b64decode("".join(lines[1:-1])))
    raw[-20] ^= 0x01  # inside the private scalar: still parses, but as another key
    damaged = f"{lines[0]}\n{base64.b64encode(bytes(raw)).decode()}\n{lines[-1]}\n"
    with pytest.raises(KeyFormatError, match="private and public parts differ"):
        load_private_key(damaged)


# --- DSA and other refused types -------------------------------------------------------------


@pytest.fixture(scope="module")
def dsa_key() -> dsa.DSAPrivateKey:
    return dsa.generate_private_key(key_size=1024)


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_dsa_traditional_pem_refused(dsa_key: dsa.DSAPrivateKey, passphrase: str | None) -> None:
    text = serialize(dsa_key, "pem", passphrase)
    assert text.startswith("-----BEGIN DSA PRIVATE KEY-----")
    with pytest.raises(UnsupportedKeyType, match="DSA keys are not supported") as info:
        load_private_key(text, passphrase)
    assert_no_key_material(info.value, text)
    if passphrase:  # refused before any passphrase is needed
        with pytest.raises(UnsupportedKeyType, match="DSA"):
            load_private_key(text)


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_dsa_pkcs8_refused(dsa_key: dsa.DSAPrivateKey, passphrase: str | None) -> None:
    text = serialize(dsa_key, "pkcs8", passphrase)
    with pytest.raises(UnsupportedKeyType, match="DSA keys are not supported") as info:
        load_private_key(text, passphrase)
    assert_no_key_material(info.value, text)


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_dsa_openssh_refused(dsa_key: dsa.DSAPrivateKey, passphrase: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography deprecates writing SSH DSA keys
        text = serialize(dsa_key, "openssh", passphrase)
    # Read from the clear header: refused even without the passphrase.
    for given in (passphrase, None):
        with pytest.raises(UnsupportedKeyType, match="DSA keys are not supported") as info:
            load_private_key(text, given)
        assert_no_key_material(info.value, text)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(ed448.Ed448PrivateKey.generate, "unsupported key type", id="ed448"),
        pytest.param(x25519.X25519PrivateKey.generate, "unsupported key type", id="x25519"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), "secp256k1", id="secp256k1"),
        pytest.param(
            lambda: ec.generate_private_key(ec.BrainpoolP256R1()), "brainpool", id="brainpool"
        ),
    ],
)
def test_other_algorithms_refused(make, match: str) -> None:
    text = serialize(make(), "pkcs8")
    with pytest.raises(UnsupportedKeyType, match=match) as info:
        load_private_key(text)
    assert_no_key_material(info.value, text)


def test_other_curve_in_traditional_pem_refused() -> None:
    text = serialize(ec.generate_private_key(ec.SECP256K1()), "pem", PASSPHRASE)
    with pytest.raises(UnsupportedKeyType, match="secp256k1"):
        load_private_key(text, PASSPHRASE)


def openssh_container(key_type: str, cipher: str = "none", kdf: str = "none") -> str:
    def string(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    public_blob = string(key_type.encode()) + string(b"\x00" * 32)
    body = (
        b"openssh-key-v1\x00"
        + string(cipher.encode())
        + string(kdf.encode())
        + string(b"" if kdf == "none" else string(b"salt" * 4) + struct.pack(">I", 16))
        + struct.pack(">I", 1)
        + string(public_blob)
        + string(b"\x00" * 64)
    )
    encoded = base64.b64encode(body).decode()
    return (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + "\n".join(encoded[i : i + 70] for i in range(0, len(encoded), 70))
        + "\n-----END OPENSSH PRIVATE KEY-----\n"
    )


@pytest.mark.parametrize(
    "key_type", ["sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]
)
def test_security_key_types_refused(key_type: str) -> None:
    with pytest.raises(UnsupportedKeyType, match="hardware security key"):
        load_private_key(openssh_container(key_type))


def test_openssh_container_for_ssh_dss_refused_from_header() -> None:
    text = openssh_container("ssh-dss", cipher="aes256-ctr", kdf="bcrypt")
    with pytest.raises(UnsupportedKeyType, match="DSA"):
        load_private_key(text)


def test_openssh_cipher_we_cannot_read_is_named(keys: dict[str, object]) -> None:
    text = serialize(keys["ed25519"], "openssh", PASSPHRASE)
    lines = text.splitlines()
    raw = base64.b64decode("".join(lines[1:-1]))
    assert b"aes256-ctr" in raw
    raw = raw.replace(b"aes256-ctr", b"aes128-ctr", 1)  # same length, so the framing holds
    crafted = lines[0] + "\n" + base64.b64encode(raw).decode() + "\n" + lines[-1] + "\n"
    with pytest.raises(UnsupportedKeyType, match="aes128-ctr") as info:
        load_private_key(crafted, PASSPHRASE)
    assert "ssh-keygen -p" in str(info.value)
    assert_no_key_material(info.value, crafted)


def test_pem_cipher_we_cannot_read_is_named(keys: dict[str, object]) -> None:
    text = serialize(keys["rsa-2048"], "pem", PASSPHRASE)
    assert "DEK-Info: AES-256-CBC," in text
    crafted = text.replace("DEK-Info: AES-256-CBC,", "DEK-Info: CAMELLIA-256-CBC,")
    with pytest.raises(UnsupportedKeyType, match="CAMELLIA-256-CBC"):
        load_private_key(crafted, PASSPHRASE)


@needs_openssl
def test_small_rsa_refused(tmp_path: Path) -> None:
    path = tmp_path / "small.pem"
    subprocess.run(
        [OPENSSL, "genrsa", "-traditional", "-out", str(path), "768"],
        check=True,
        capture_output=True,
    )
    with pytest.raises(UnsupportedKeyType, match="768 bits is too small"):
        load_private_key(path.read_bytes())


def test_rsa_1024_accepted() -> None:
    parsed = load_private_key(serialize(generate("rsa-1024"), "pem"))
    assert (parsed.kind, parsed.bits) == ("rsa", 1024)


# --- not keys, damaged keys, bad arguments ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n\t ", "empty", id="blank"),
        pytest.param("hello world", "not a private key", id="text"),
        pytest.param(b"\xff\xfe\x00garbage", "not text", id="binary"),
        pytest.param(b"\x30\x82\x04\xa4\x02\x01\x00", "DER", id="der"),
        pytest.param(
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", "puttygen", id="ppk"
        ),
        pytest.param(
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nAAAA\n"
            "---- END SSH2 ENCRYPTED PRIVATE KEY ----",
            "ssh-keygen -i",
            id="ssh2",
        ),
        pytest.param("x" * (MAX_KEY_TEXT_SIZE + 1), "larger than", id="too-large-str"),
        pytest.param(b"x" * (MAX_KEY_TEXT_SIZE + 1), "larger than", id="too-large-bytes"),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n", "empty", id="empty-block"
        ),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nnot*base64!\n-----END PRIVATE KEY-----\n",
            "base64",
            id="bad-base64",
        ),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "mismatched",
            id="mismatched-end",
        ),
        pytest.param(
            "-----BEGIN FOO PRIVATE KEY-----\nAAAA\n-----END FOO PRIVATE KEY-----\n",
            "unsupported private key format",
            id="unknown-label",
        ),
        pytest.param(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            "bad header",
            id="openssh-bad-magic",
        ),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "damaged",
            id="pkcs8-junk",
        ),
    ],
)
def test_not_a_key(data: str | bytes, match: str) -> None:
    with pytest.raises(KeyFormatError, match=match) as info:
        load_private_key(data)
    assert_no_key_material(info.value)


def test_public_keys_and_certificates_are_not_private_keys(keys: dict[str, object]) -> None:
    public = keys["ed25519"].public_key()  # type: ignore[attr-defined]
    openssh_line = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    for text in (openssh_line + " me@host\n", pem):
        with pytest.raises(KeyFormatError, match="public key"):
            load_private_key(text)
    cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(KeyFormatError, match="certificate"):
        load_private_key(cert)


def test_private_key_next_to_a_certificate_is_found(keys: dict[str, object]) -> None:
    text = serialize(keys["ecdsa-384"], "pkcs8")
    cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert load_private_key(cert + text).private_key_text == text


def test_two_private_keys_refused(keys: dict[str, object]) -> None:
    text = serialize(keys["ed25519"], "openssh") + serialize(keys["ecdsa-256"], "pkcs8")
    with pytest.raises(KeyFormatError, match="more than one"):
        load_private_key(text)


@pytest.mark.parametrize("fmt", ["openssh", "pem", "pkcs8"])
def test_damaged_unencrypted_key(keys: dict[str, object], fmt: str) -> None:
    text = serialize(keys["rsa-2048"], fmt)
    lines = text.splitlines()
    raw = bytearray(base64.b64decode("".join(lines[1:-1])))
    raw = raw[: len(raw) // 2]
    damaged = lines[0] + "\n" + base64.b64encode(bytes(raw)).decode() + "\n" + lines[-1] + "\n"
    with pytest.raises(KeyFormatError) as info:
        load_private_key(damaged)
    assert_no_key_material(info.value, text)


@pytest.mark.parametrize("fmt", ["openssh", "pem", "pkcs8"])
def test_damaged_encrypted_key_is_refused(keys: dict[str, object], fmt: str) -> None:
    text = serialize(keys["ecdsa-256"], fmt, PASSPHRASE)
    lines = text.splitlines()
    head = [line for line in lines if line.startswith(("-----", "Proc-Type", "DEK-Info"))]
    encoded = "".join(line for line in lines if line not in head and line)
    raw = bytearray(base64.b64decode(encoded))
    raw[-20] ^= 0xFF  # inside the encrypted part
    middle = "\n".join(h for h in head[1:-1]) + ("\n\n" if len(head) > 2 else "")
    damaged = f"{head[0]}\n{middle}{base64.b64encode(bytes(raw)).decode()}\n{head[-1]}\n"
    with pytest.raises((WrongPassphrase, KeyFormatError)) as info:
        load_private_key(damaged, PASSPHRASE)
    assert_no_key_material(info.value, text)


def test_pem_with_unexpected_headers(keys: dict[str, object]) -> None:
    text = serialize(keys["rsa-2048"], "pem")
    first, rest = text.split("\n", 1)
    with pytest.raises(KeyFormatError, match="headers"):
        load_private_key(f"{first}\nComment: hello\n\n{rest}")
    for fmt in ("pkcs8", "openssh"):
        first, rest = serialize(keys["rsa-2048"], fmt).split("\n", 1)
        with pytest.raises(KeyFormatError, match="headers"):
            load_private_key(f"{first}\nProc-Type: 4,ENCRYPTED\n\n{rest}")


def test_bad_argument_types(keys: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        load_private_key(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_private_key(serialize(keys["ed25519"], "openssh"), b"pass")  # type: ignore[arg-type]


def test_unicode_passphrase(keys: dict[str, object]) -> None:
    passphrase = "пароль-🔑"
    for fmt in ("openssh", "pem", "pkcs8"):
        text = serialize(keys["ecdsa-256"], fmt, passphrase)
        assert load_private_key(text, passphrase).encrypted
        with pytest.raises(WrongPassphrase):
            load_private_key(text, "пароль")


# --- keys written by ssh-keygen --------------------------------------------------------------


def ssh_keygen(tmp_path: Path, key_type: str, passphrase: str, *extra: str) -> Path | None:
    path = tmp_path / f"id_{key_type}"
    if key_type == "rsa":
        extra = ("-b", "2048", *extra)  # the 3072-bit default is slow to generate
    done = subprocess.run(
        [SSH_KEYGEN, "-q", "-t", key_type, "-N", passphrase, "-C", "test@ocore", "-f", str(path)]
        + list(extra),
        capture_output=True,
        text=True,
    )
    return path if done.returncode == 0 else None


@needs_ssh_keygen
@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa", "rsa"])
@pytest.mark.parametrize(
    "form", [[], ["-m", "PEM"], ["-m", "PKCS8"]], ids=["openssh", "pem", "pkcs8"]
)
@pytest.mark.parametrize("passphrase", ["", PASSPHRASE], ids=["plain", "encrypted"])
def test_ssh_keygen_keys(tmp_path: Path, key_type: str, form: list[str], passphrase: str) -> None:
    path = ssh_keygen(tmp_path, key_type, passphrase, *form)
    assert path is not None
    parsed = load_private_key(path.read_bytes(), passphrase or None)
    listed = subprocess.run(
        [SSH_KEYGEN, "-l", "-E", "sha256", "-f", str(path) + ".pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert parsed.fingerprint == listed[1]
    assert parsed.public_key == " ".join(Path(str(path) + ".pub").read_text().split()[:2])
    assert parsed.kind == key_type
    assert parsed.encrypted is bool(passphrase)
    assert isinstance(parsed.to_paramiko(), PARAMIKO_CLASS[key_type])
    if passphrase:
        with pytest.raises(PassphraseRequired):
            load_private_key(path.read_bytes())
        with pytest.raises(WrongPassphrase):
            load_private_key(path.read_bytes(), "wrong passphrase")


@needs_ssh_keygen
def test_ssh_keygen_aes256_gcm_encrypted_key(tmp_path: Path) -> None:
    path = ssh_keygen(tmp_path, "ed25519", PASSPHRASE, "-Z", "aes256-gcm@openssh.com")
    assert path is not None
    assert load_private_key(path.read_text(), PASSPHRASE).encrypted
    with pytest.raises(WrongPassphrase):
        load_private_key(path.read_text(), "wrong passphrase")


@needs_ssh_keygen
def test_ssh_keygen_chacha20_encrypted_key_refused_clearly(tmp_path: Path) -> None:
    path = ssh_keygen(tmp_path, "ed25519", PASSPHRASE, "-Z", "chacha20-poly1305@openssh.com")
    assert path is not None
    with pytest.raises(UnsupportedKeyType, match="chacha20-poly1305@openssh.com"):
        load_private_key(path.read_text(), PASSPHRASE)


@needs_ssh_keygen
@pytest.mark.parametrize("passphrase", ["", PASSPHRASE], ids=["plain", "encrypted"])
def test_ssh_keygen_dsa_refused(tmp_path: Path, passphrase: str) -> None:
    path = ssh_keygen(tmp_path, "dsa", passphrase)
    if path is None:
        pytest.skip("this ssh-keygen no longer generates DSA keys")
    with pytest.raises(UnsupportedKeyType, match="DSA"):
        load_private_key(path.read_bytes(), passphrase or None)
