"""SSH key material generated in memory for tests (never written to disk)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def ed25519_openssh(passphrase: str | None = None) -> str:
    """A fresh Ed25519 private key in OpenSSH format, optionally passphrase-protected."""
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if passphrase:
        # One bcrypt round instead of ssh-keygen's 16: the tests load these keys often.
        builder = serialization.PrivateFormat.OpenSSH.encryption_builder().kdf_rounds(1)
        encryption = builder.build(passphrase.encode())
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
        .decode()
    )


def public_line(private_key_text: str, passphrase: str | None = None) -> str:
    """The OpenSSH public key line ("type base64") of a private key text, for
    ``Sshd.authorize`` or a pinned host key."""
    key = serialization.load_ssh_private_key(
        private_key_text.encode(), passphrase.encode() if passphrase else None
    )
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def body_lines(key_text: str) -> list[str]:
    """The base64 lines of a PEM/OpenSSH key, for asserting they never appear in output."""
    return [line for line in key_text.splitlines() if line and not line.startswith("-----")]
