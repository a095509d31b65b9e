"""The text around a private key: size and encoding checks, the PEM block and its headers,
canonical re-wrapping, and hints for what is not a private key (PuTTY, public keys...)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from ocore_vault.keyerrors import KeyFormatError

__all__ = ["MAX_KEY_TEXT_SIZE", "Block", "as_text", "find_block"]

MAX_KEY_TEXT_SIZE = 64 * 1024  # a 16384-bit RSA key is about 13 KiB

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL)
_HEADER = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*):[ \t]*(\S+)")
_PUBLIC_LINE = re.compile(r"^\s*(ssh-|ecdsa-sha2-|sk-)\S+\s+AAAA")


@dataclass(frozen=True)
class Block:
    label: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    width: int  # base64 line length: the input's own if consistent (ssh-keygen 70, PEM 64)

    def text(self) -> str:
        """The block in canonical armor (``\\n`` line ends, consistent base64 width)."""
        width = self.width
        encoded = base64.b64encode(self.body).decode("ascii")
        lines = [f"-----BEGIN {self.label}-----"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.headers:
            lines.append("")
        lines += [encoded[i : i + width] for i in range(0, len(encoded), width)]
        lines.append(f"-----END {self.label}-----")
        return "\n".join(lines) + "\n"


def as_text(data: bytes | str) -> str:
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


def find_block(text: str) -> Block:
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
    return Block(label, tuple(headers), body, _line_width(label, chunks))


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
