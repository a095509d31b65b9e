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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import struct
from dataclasses import dataclass, field
from typing import Literal

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

__all__ = [
    "MAX_KEY_TEXT_SIZE",
    "MIN_RSA_BITS",
    "KeyFormatError",
    "ParsedKey",
    "PassphraseRequired",
    "PrivateKeyError",
    "UnsupportedKeyType",
    "WrongPassphrase",
    "load_private_key",
]

MAX_KEY_TEXT_SIZE = 64 * 1024  # a 16384-bit RSA key is about 13 KiB
MIN_RSA_BITS = 1024

KeyKind = Literal["ed25519", "ecdsa", "rsa"]
SourceFormat = Literal["openssh", "pem", "pkcs8"]

_OPENSSH_MAGIC = b"openssh-key-v1\x00"
_SUPPORTED_CURVES = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}
_PARAMIKO_CLASSES: dict[str, type[paramiko.PKey]] = {
    "ed25519": paramiko.Ed25519Key,
    "ecdsa": paramiko.ECDSAKey,
    "rsa": paramiko.RSAKey,
}
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL)
_HEADER = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*):[ \t]*(\S+)")
_PUBLIC_LINE = re.compile(r"^\s*(ssh-|ecdsa-sha2-|sk-)\S+\s+AAAA")
_DSA_TYPES = {"ssh-dss"}
# What cryptography 50 decrypts; anything else is refused up front with the cipher named.
_OPENSSH_CIPHERS = {b"aes256-ctr", b"aes256-cbc", b"aes256-gcm@openssh.com"}
_PEM_CIPHERS = {"AES-128-CBC", "AES-256-CBC", "DES-EDE3-CBC"}
_REENCRYPT_HINT = "re-encrypt it with `ssh-keygen -p -f KEYFILE` (keeps the key, new format)"
_SK_PREFIX = "sk-"


class PrivateKeyError(ValueError):
    """Base of every refusal of a private key; messages never contain key material."""


class KeyFormatError(PrivateKeyError):
    """The text is not a private key this loader can read (or is damaged)."""


class PassphraseRequired(PrivateKeyError):
    """The key is encrypted and no passphrase was given."""


class WrongPassphrase(PrivateKeyError):
    """The key is encrypted and the passphrase does not open it (or the key is corrupt)."""


class UnsupportedKeyType(PrivateKeyError):
    """The key is readable but of a type we will not use (DSA, security keys, odd curves...)."""


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


@dataclass(frozen=True)
class _Block:
    label: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    width: int  # base64 line length: the input's own if consistent (ssh-keygen 70, PEM 64)

    def text(self) -> str:
        width = self.width
        encoded = base64.b64encode(self.body).decode("ascii")
        lines = [f"-----BEGIN {self.label}-----"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.headers:
            lines.append("")
        lines += [encoded[i : i + width] for i in range(0, len(encoded), width)]
        lines.append(f"-----END {self.label}-----")
        return "\n".join(lines) + "\n"


def load_private_key(data: bytes | str, passphrase: str | None = None) -> ParsedKey:
    """Validate an SSH private key from memory and describe it, or raise a PrivateKeyError."""
    text = _as_text(data)
    block = _find_block(text)
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
        encrypted, clear_public_blob = _check_openssh_container(block.body)
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


def _as_text(data: bytes | str) -> str:
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > MAX_KEY_TEXT_SIZE:
            raise KeyFormatError(f"key text is larger than {MAX_KEY_TEXT_SIZE} bytes")
        if raw.startswith(b"\x30\x82") or raw.startswith(b"\x30\x81"):
            raise KeyFormatError("binary (DER) keys are not accepted; convert the key to PEM")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFormatError("key is not text; paste the PEM/OpenSSH key file") from None
    elif isinstance(data, str):
        text = data
        if len(text) > MAX_KEY_TEXT_SIZE:
            raise KeyFormatError(f"key text is larger than {MAX_KEY_TEXT_SIZE} characters")
    else:
        raise TypeError("key data must be bytes or str")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise KeyFormatError("no private key given (the text is empty)")
    return text


def _find_block(text: str) -> _Block:
    blocks = list(_BLOCK.finditer(text))
    private = [m for m in blocks if m.group(1).endswith("PRIVATE KEY")]
    if not private:
        raise KeyFormatError(_not_a_key_hint(text, blocks))
    if len(private) > 1:
        raise KeyFormatError("the text holds more than one private key; give exactly one")
    match = private[0]
    label = match.group(1)
    if match.group(3) != label:
        raise KeyFormatError(f"the {label} block ends with a mismatched END line")
    inner = match.group(2)
    headers: list[tuple[str, str]] = []
    pos = 0
    while (header := _HEADER.match(inner, pos)) is not None:
        headers.append((header.group(1), header.group(2)))
        pos = header.end()
    chunks = inner[pos:].split()
    encoded = "".join(chunks)
    if not encoded:
        raise KeyFormatError(f"the {label} block is empty")
    try:
        body = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"the {label} block is not valid base64 (damaged key)") from None
    return _Block(label, tuple(headers), body, _line_width(label, chunks))


def _line_width(label: str, chunks: list[str]) -> int:
    """Keep a consistent wrapping as given, so a well-formed key is stored byte for byte."""
    width = len(chunks[0])
    consistent = all(len(c) == width for c in chunks[:-1]) and len(chunks[-1]) <= width
    if len(chunks) > 1 and consistent and width % 4 == 0 and 16 <= width <= 128:
        return width
    return 70 if label == "OPENSSH PRIVATE KEY" else 64


def _not_a_key_hint(text: str, blocks: list[re.Match[str]]) -> str:
    stripped = text.lstrip()
    if stripped.startswith("PuTTY-User-Key-File-"):
        return (
            "this is a PuTTY .ppk key; convert it with "
            "`puttygen key.ppk -O private-openssh -o key` and paste the result"
        )
    if "BEGIN SSH2 ENCRYPTED PRIVATE KEY" in text:
        return "this is an SSH.com/Tectia key; convert it with `ssh-keygen -i -f key`"
    if _PUBLIC_LINE.match(stripped) or any("PUBLIC KEY" in m.group(1) for m in blocks):
        return "this is a public key; the private key is needed"
    if any("CERTIFICATE" in m.group(1) for m in blocks):
        return "this is a certificate, not a private key"
    return "not a private key: expected a -----BEGIN ... PRIVATE KEY----- block"


def _read_string(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(data):
        raise KeyFormatError("the OpenSSH private key is truncated")
    (length,) = struct.unpack_from(">I", data, pos)
    end = pos + 4 + length
    if end > len(data):
        raise KeyFormatError("the OpenSSH private key is truncated")
    return data[pos + 4 : end], end


def _check_openssh_container(body: bytes) -> tuple[bool, bytes]:
    """Read the OpenSSH container's clear header: refuse DSA/sk early; (encrypted, public)."""
    if not body.startswith(_OPENSSH_MAGIC):
        raise KeyFormatError("the OpenSSH private key has a bad header (damaged key)")
    pos = len(_OPENSSH_MAGIC)
    cipher, pos = _read_string(body, pos)
    kdf, pos = _read_string(body, pos)
    _kdf_options, pos = _read_string(body, pos)
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
    return True, public_blob


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
