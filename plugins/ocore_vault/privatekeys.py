"""Validation of SSH private keys on their way into the vault, entirely in memory.

Accepted: Ed25519, ECDSA (nistp256/384/521) and RSA (at least 1024 bits, OpenSSH's own floor)
in the OpenSSH format (``BEGIN OPENSSH PRIVATE KEY``), traditional PEM (``BEGIN RSA|EC PRIVATE
KEY``, optionally ``Proc-Type: 4,ENCRYPTED``) and PKCS#8 (``BEGIN PRIVATE KEY`` / ``BEGIN
ENCRYPTED PRIVATE KEY``). Refused with a typed error: DSA (OpenSSH and paramiko 5 dropped it),
FIDO security-key types, other curves and algorithms, public keys, PuTTY/SSH.com files.

What is stored: the key text as the user gave it, canonicalised only in its armor (line endings,
indentation, base64 line length; a key pasted on one line is re-wrapped), never re-encrypted or
decrypted, plus, when ``ParsedKey.encrypted`` is true, the passphrase as a separate vault value.
Reading a stored key back always goes through ``load_private_key(text, passphrase)`` and then
``ParsedKey.to_paramiko()``: the key is decrypted by ``cryptography`` and handed to paramiko as
an in-memory, unencrypted OpenSSH-format text, so PKCS#8 and every cipher ``cryptography``
reads work even where paramiko's own parsers would not, and nothing touches the disk.

A passphrase given for a key that is not encrypted is ignored (``encrypted`` is then false, so
the caller stores none); an empty passphrase counts as none.

An OpenSSH key's passphrase is stretched with bcrypt, ``rounds`` times (``ssh-keygen -a N``,
default 16), about 7.5 ms per round on a 2-vCPU server: the work is paid again each time the
key is decrypted, before any connection timeout runs. ``load_private_key`` refuses more than
``MAX_KDF_ROUNDS`` (100, about 0.75 s) unless told otherwise, naming the rounds found and the fix.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
from dataclasses import dataclass, field
from typing import Literal

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from ocore_vault.keyarmor import MAX_KEY_TEXT_SIZE, as_text, find_block
from ocore_vault.keyerrors import (
    KdfTooExpensive,
    KeyFormatError,
    PassphraseRequired,
    PrivateKeyError,
    UnsupportedKeyType,
    WrongPassphrase,
)

__all__ = [
    "MAX_KDF_ROUNDS",
    "MAX_KEY_TEXT_SIZE",
    "MIN_RSA_BITS",
    "KdfTooExpensive",
    "KeyFormatError",
    "ParsedKey",
    "PassphraseRequired",
    "PrivateKeyError",
    "UnsupportedKeyType",
    "WrongPassphrase",
    "load_private_key",
]

MIN_RSA_BITS = 1024
#: Most bcrypt rounds accepted for an OpenSSH key's passphrase when it is stored: covers the
#: default (16) and the often recommended ``-a 100``; ``-a 1000`` would cost ~7.5 s per decrypt.
MAX_KDF_ROUNDS = 100

KeyKind = Literal["ed25519", "ecdsa", "rsa"]
SourceFormat = Literal["openssh", "pem", "pkcs8"]

_OPENSSH_MAGIC = b"openssh-key-v1\x00"
_SUPPORTED_CURVES = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}
_PARAMIKO_CLASSES: dict[str, type[paramiko.PKey]] = {
    "ed25519": paramiko.Ed25519Key,
    "ecdsa": paramiko.ECDSAKey,
    "rsa": paramiko.RSAKey,
}
_DSA_TYPES = {"ssh-dss"}
# What cryptography 50 decrypts; anything else is refused up front with the cipher named.
_OPENSSH_CIPHERS = {b"aes256-ctr", b"aes256-cbc", b"aes256-gcm@openssh.com"}
_PEM_CIPHERS = {"AES-128-CBC", "AES-256-CBC", "DES-EDE3-CBC"}
_REENCRYPT_HINT = "re-encrypt it with `ssh-keygen -p -f KEYFILE` (keeps the key, new format)"
_SK_PREFIX = "sk-"


@dataclass(frozen=True, eq=False, repr=False)
class ParsedKey:
    """A validated private key: what to show, what to store, and how to hand it to paramiko."""

    kind: KeyKind
    bits: int
    algorithm: str  # SSH key type, e.g. "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"
    public_key: str  # OpenSSH public key line, without comment
    fingerprint: str  # "SHA256:..." as ssh-keygen -l prints it
    encrypted: bool  # the stored text needs the passphrase
    source_format: SourceFormat
    private_key_text: str  # what to store (canonical armor; encrypted iff ``encrypted``)
    _private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        field(compare=False)
    )

    def __repr__(self) -> str:
        return (
            f"ParsedKey(kind={self.kind!r}, bits={self.bits}, fingerprint={self.fingerprint!r}, "
            f"encrypted={self.encrypted}, source_format={self.source_format!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ParsedKey cannot be pickled")

    def to_paramiko(self) -> paramiko.PKey:
        """Build a fresh paramiko key from memory (unencrypted OpenSSH text in a StringIO)."""
        text = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode("ascii")
        try:
            return _PARAMIKO_CLASSES[self.kind].from_private_key(io.StringIO(text))
        except Exception:
            # paramiko errors may quote key bytes; keep them out of the traceback.
            raise UnsupportedKeyType(
                f"paramiko cannot use this {self.kind} key ({self.bits} bits)"
            ) from None


def load_private_key(
    data: bytes | str,
    passphrase: str | None = None,
    *,
    max_kdf_rounds: int | None = MAX_KDF_ROUNDS,
) -> ParsedKey:
    """Validate an SSH private key from memory and describe it, or raise a PrivateKeyError;
    ``max_kdf_rounds`` None accepts any bcrypt cost (reading a key stored earlier)."""
    text = as_text(data)
    block = find_block(text)
    if passphrase == "":
        passphrase = None
    if passphrase is not None and not isinstance(passphrase, str):
        raise TypeError("passphrase must be a str or None")
    password = passphrase.encode("utf-8") if passphrase is not None else None

    label = block.label
    if block.headers and label not in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"):
        raise KeyFormatError(f"{label} blocks carry no headers; the key text is damaged")
    clear_public_blob: bytes | None = None
    if label == "OPENSSH PRIVATE KEY":
        encrypted, clear_public_blob = _check_openssh_container(block.body, max_kdf_rounds)
        source_format: SourceFormat = "openssh"
    elif label in ("RSA PRIVATE KEY", "EC PRIVATE KEY"):
        encrypted = _check_pem_headers(block.headers)
        source_format = "pem"
    elif label == "DSA PRIVATE KEY":
        raise _dsa_refused()
    elif label in ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        encrypted = label == "ENCRYPTED PRIVATE KEY"
        source_format = "pkcs8"
    else:
        raise KeyFormatError(f"unsupported private key format ({label})")

    if encrypted and password is None:
        raise PassphraseRequired("the private key is encrypted; give its passphrase")
    stored = block.text()
    key = _deserialize(stored, source_format, password if encrypted else None)
    kind, bits, algorithm = _classify(key)
    public_line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    blob = base64.b64decode(public_line.split(b" ")[1])
    if clear_public_blob is not None and clear_public_blob != blob:
        # OpenSSH keeps a clear copy of the public key; a private part that does not match it
        # (bit rot, tampering) would otherwise load as some other key.
        raise KeyFormatError("the private key is damaged: its private and public parts differ")
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    parsed = ParsedKey(
        kind=kind,
        bits=bits,
        algorithm=algorithm,
        public_key=public_line.decode("ascii"),
        fingerprint=fingerprint,
        encrypted=encrypted,
        source_format=source_format,
        private_key_text=stored,
        _private_key=key,
    )
    # Prove now, not at the first connection, that paramiko takes it and sees the same key.
    if parsed.to_paramiko().asbytes() != blob:
        raise UnsupportedKeyType(f"paramiko reads this {kind} key differently; refusing it")
    return parsed


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(data):
        raise KeyFormatError("the OpenSSH private key is truncated")
    (length,) = struct.unpack_from(">I", data, pos)
    end = pos + 4 + length
    if end > len(data):
        raise KeyFormatError("the OpenSSH private key is truncated")
    return data[pos + 4 : end], end


def _check_openssh_container(body: bytes, max_rounds: int | None) -> tuple[bool, bytes]:
    """Read the OpenSSH container's clear header: refuse DSA/sk and costly KDFs early;
    (encrypted, public)."""
    if not body.startswith(_OPENSSH_MAGIC):
        raise KeyFormatError("the OpenSSH private key has a bad header (damaged key)")
    pos = len(_OPENSSH_MAGIC)
    cipher, pos = _read_string(body, pos)
    kdf, pos = _read_string(body, pos)
    kdf_options, pos = _read_string(body, pos)
    if pos + 4 > len(body):
        raise KeyFormatError("the OpenSSH private key is truncated")
    (count,) = struct.unpack_from(">I", body, pos)
    if count != 1:
        raise KeyFormatError(f"the OpenSSH key file holds {count} keys; give exactly one")
    public_blob, _ = _read_string(body, pos + 4)
    key_type_raw, _ = _read_string(public_blob, 0)
    key_type = key_type_raw.decode("ascii", "replace")
    if key_type in _DSA_TYPES:
        raise _dsa_refused()
    if key_type.startswith(_SK_PREFIX):
        raise UnsupportedKeyType(
            f"{key_type} keys live on a hardware security key and cannot be used by a server"
        )
    if cipher == b"none" and kdf == b"none":
        return False, public_blob
    if cipher == b"none" or kdf != b"bcrypt":
        raise KeyFormatError("the OpenSSH private key has an inconsistent cipher/KDF header")
    if cipher not in _OPENSSH_CIPHERS:
        name = cipher.decode("ascii", "replace")
        raise UnsupportedKeyType(
            f"the key is encrypted with {name}, which this server cannot read; " + _REENCRYPT_HINT
        )
    rounds = kdf_rounds(kdf_options)
    if max_rounds is not None and rounds > max_rounds:
        raise KdfTooExpensive(rounds, max_rounds)
    return True, public_blob


def kdf_rounds(kdf_options: bytes) -> int:
    """The bcrypt rounds in an OpenSSH key's KDF options (``string salt, uint32 rounds``)."""
    _salt, pos = _read_string(kdf_options, 0)
    if pos + 4 != len(kdf_options):
        raise KeyFormatError("the OpenSSH private key has damaged KDF options")
    (rounds,) = struct.unpack_from(">I", kdf_options, pos)
    return int(rounds)


def _check_pem_headers(headers: tuple[tuple[str, str], ...]) -> bool:
    names = {name.lower(): value for name, value in headers}
    if not names:
        return False
    if set(names) != {"proc-type", "dek-info"} or names["proc-type"] != "4,ENCRYPTED":
        raise KeyFormatError("the PEM key has headers other than an encryption header")
    cipher = names["dek-info"].split(",", 1)[0].upper()
    if cipher not in _PEM_CIPHERS:
        raise UnsupportedKeyType(
            f"the key is encrypted with {cipher}, which this server cannot read; " + _REENCRYPT_HINT
        )
    return True


def _deserialize(
    text: str, source_format: SourceFormat, password: bytes | None
) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    raw = text.encode("ascii")
    try:
        if source_format == "openssh":
            key = serialization.load_ssh_private_key(raw, password=password)
        else:
            key = serialization.load_pem_private_key(raw, password=password)
    except UnsupportedAlgorithm:
        raise UnsupportedKeyType(
            "the key uses an algorithm or encryption cipher this server cannot read"
        ) from None
    except Exception:  # ValueError, TypeError, InvalidTag...: unreadable either way
        if password is not None:
            raise WrongPassphrase(
                "the passphrase does not open this private key (or the key is damaged)"
            ) from None
        raise KeyFormatError("the private key is damaged or not a valid key") from None
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key
    if isinstance(key, dsa.DSAPrivateKey):
        raise _dsa_refused()
    raise UnsupportedKeyType(
        "unsupported key type; use an Ed25519, ECDSA (nistp256/384/521) or RSA key"
    )


def _classify(
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> tuple[KeyKind, int, str]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519", 256, "ssh-ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        bits = _SUPPORTED_CURVES.get(key.curve.name)
        if bits is None:
            raise UnsupportedKeyType(
                f"ECDSA curve {key.curve.name} is not usable with SSH; use nistp256/384/521"
            )
        return "ecdsa", bits, f"ecdsa-sha2-nistp{bits}"
    if key.key_size < MIN_RSA_BITS:
        raise UnsupportedKeyType(
            f"RSA key of {key.key_size} bits is too small; OpenSSH requires at least "
            f"{MIN_RSA_BITS} (3072 or more recommended, or Ed25519)"
        )
    return "rsa", key.key_size, "ssh-rsa"


def _dsa_refused() -> UnsupportedKeyType:
    return UnsupportedKeyType(
        "DSA keys are not supported (OpenSSH disabled them in 7.0 and paramiko 5 dropped "
        "them); use an Ed25519, ECDSA or RSA key"
    )
