"""Users' SSH public keys: parsed, checked and fingerprinted entirely in memory.

Accepted: ``ssh-ed25519``, ``ecdsa-sha2-nistp256``/``nistp384`` and ``ssh-rsa`` of at least
2048 bits (a warning under 4096), given as one OpenSSH public key line (a ``.pub`` file or an
``authorized_keys`` line without options). The fingerprint is what ``ssh-keygen -lf`` prints:
``SHA256:`` and the unpadded base64 of the SHA-256 of the key blob.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocore_gateway.errors import InvalidKey

ALGORITHMS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ssh-rsa")
MIN_RSA_BITS = 2048
WARN_RSA_BITS = 4096
MAX_COMMENT = 200
MAX_TEXT = 16 * 1024
_CURVES = {"ecdsa-sha2-nistp256": 256, "ecdsa-sha2-nistp384": 384}
_ACCEPTED = "ssh-ed25519, ecdsa-sha2-nistp256/384 or ssh-rsa (2048 bits or more)"


@dataclass(frozen=True)
class PublicKey:
    """A checked public key: its line ("type base64"), fingerprint, size and comment."""

    algorithm: str
    blob: bytes
    bits: int
    comment: str | None

    @property
    def line(self) -> str:
        """The key as pinned and stored: ``type base64`` (no comment)."""
        return f"{self.algorithm} {base64.b64encode(self.blob).decode('ascii')}"

    @property
    def fingerprint(self) -> str:
        """``SHA256:…`` exactly as ``ssh-keygen -lf`` prints it."""
        return fingerprint_of(self.blob)

    @property
    def warning(self) -> str | None:
        """Advice for an acceptable but weaker key (RSA under 4096 bits)."""
        if self.algorithm == "ssh-rsa" and self.bits < WARN_RSA_BITS:
            return (
                f"this RSA key has {self.bits} bits; {WARN_RSA_BITS} or an Ed25519 key "
                "(ssh-keygen -t ed25519) is recommended"
            )
        return None


def fingerprint_of(blob: bytes) -> str:
    """The OpenSSH SHA256 fingerprint of a public key blob."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def _read_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(blob):
        raise InvalidKey("the key data is truncated (damaged key)")
    (length,) = struct.unpack_from(">I", blob, pos)
    end = pos + 4 + length
    if end > len(blob):
        raise InvalidKey("the key data is truncated (damaged key)")
    return blob[pos + 4 : end], end


def _key_line(text: str) -> list[str]:
    """The one key line of ``text`` split in fields (blank and ``#`` lines skipped)."""
    if len(text) > MAX_TEXT:
        raise InvalidKey(f"the key text is longer than {MAX_TEXT} characters; give one .pub line")
    if "PRIVATE KEY" in text:
        raise InvalidKey(
            "this is a private key: give the public key (the .pub file next to it, or "
            "`ssh-keygen -y -f KEYFILE`), never the private key"
        )
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not lines:
        raise InvalidKey("no public key given: expected a line like 'ssh-ed25519 AAAA… comment'")
    if len(lines) > 1:
        raise InvalidKey("give exactly one public key (one line); add several keys one by one")
    if "BEGIN" in lines[0] and "----" in lines[0]:
        raise InvalidKey("not an OpenSSH public key line (convert it: ssh-keygen -i -f FILE)")
    return lines[0].split()


def parse_public_key(text: str) -> PublicKey:
    """Check one OpenSSH public key line; ``InvalidKey`` says what is wrong and what to give."""
    fields = _key_line(text)
    if fields[0] not in ALGORITHMS:
        _refuse_type(fields)
    if len(fields) < 2:
        raise InvalidKey(f"the {fields[0]} key has no key data after its type")
    algorithm, data = fields[0], fields[1]
    comment = " ".join(fields[2:]) or None
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(f"the {algorithm} key data is not valid base64 (damaged key)") from None
    inner, _ = _read_string(blob, 0)
    if inner != algorithm.encode("ascii"):
        raise InvalidKey(f"the key data is not a {algorithm} key (its type and data disagree)")
    try:
        key = serialization.load_ssh_public_key(f"{algorithm} {data}".encode("ascii"))
    except (ValueError, TypeError, struct.error):
        raise InvalidKey(f"the {algorithm} key data is damaged or not a valid key") from None
    bits = _bits(algorithm, key)
    if comment is not None:
        if not comment.isprintable():
            raise InvalidKey("the key comment contains control characters")
        comment = comment[:MAX_COMMENT]
    return PublicKey(algorithm, blob, bits, comment)


def _bits(algorithm: str, key: object) -> int:
    if algorithm == "ssh-ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
        return 256
    if algorithm in _CURVES and isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size != _CURVES[algorithm]:
            raise InvalidKey(f"the key data does not match {algorithm} (damaged key)")
        return _CURVES[algorithm]
    if algorithm == "ssh-rsa" and isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidKey(
                f"this RSA key has {key.key_size} bits; the gateway needs at least "
                f"{MIN_RSA_BITS} (better {WARN_RSA_BITS}, or Ed25519: ssh-keygen -t ed25519)"
            )
        return int(key.key_size)
    raise InvalidKey(f"the key data does not match {algorithm} (damaged key)")


def _refuse_type(fields: list[str]) -> None:
    first = fields[0]
    if first == "ssh-dss":
        raise InvalidKey(f"DSA keys are not accepted (OpenSSH disabled them); use {_ACCEPTED}")
    if first.startswith("sk-"):
        raise InvalidKey(
            f"{first} keys (FIDO security keys) are not accepted by the gateway; use {_ACCEPTED}"
        )
    if "-cert-" in first:
        raise InvalidKey(f"certificates are not accepted; give the plain public key: {_ACCEPTED}")
    if first == "ecdsa-sha2-nistp521":
        raise InvalidKey(f"ECDSA nistp521 keys are not accepted; use {_ACCEPTED}")
    if any(f in ALGORITHMS for f in fields[1:]):
        raise InvalidKey(
            "authorized_keys options before the key are not accepted; give just the key line "
            "('ssh-ed25519 AAAA… comment')"
        )
    raise InvalidKey(f"not an SSH public key line: expected {_ACCEPTED}, e.g. 'ssh-ed25519 AAAA…'")
