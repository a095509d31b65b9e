"""The typed refusals of a private key; messages never contain key material."""

from __future__ import annotations

__all__ = [
    "KdfTooExpensive",
    "KeyFormatError",
    "PassphraseRequired",
    "PrivateKeyError",
    "UnsupportedKeyType",
    "WrongPassphrase",
]


class PrivateKeyError(ValueError):
    """Base of every refusal of a private key; messages never contain key material."""


class KeyFormatError(PrivateKeyError):
    """The text is not a private key this loader can read (or is damaged)."""


class PassphraseRequired(PrivateKeyError):
    """The key is encrypted and no passphrase was given."""


class WrongPassphrase(PrivateKeyError):
    """The key is encrypted and the passphrase does not open it (or the key is corrupt)."""


class KdfTooExpensive(PrivateKeyError):
    """The key's passphrase KDF asks for more bcrypt rounds than ``MAX_KDF_ROUNDS``."""

    def __init__(self, rounds: int, limit: int) -> None:
        self.rounds = rounds
        self.limit = limit
        super().__init__(
            f"the key's passphrase is stretched with {rounds} bcrypt rounds (ssh-keygen -a "
            f"{rounds}); at most {limit} are accepted, because every decryption of the key pays "
            f"them (~7.5 ms per round here). Re-encrypt it with fewer rounds: "
            f"`ssh-keygen -p -a {limit} -f KEYFILE` (16 is ssh-keygen's default), then store it"
        )


class UnsupportedKeyType(PrivateKeyError):
    """The key is readable but of a type we will not use (DSA, security keys, odd curves...)."""
