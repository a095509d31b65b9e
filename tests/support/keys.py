"""SSH key material generated in memory for tests."""

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
