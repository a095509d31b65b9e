"""CredentialStore: SSH passwords and private keys, encrypted per row, over the shared engine.

Every stored value is bound (associated data) to this table, its purpose and the row's primary
key, so a value copied to another row or column fails its integrity check. Writes always use
the active key; reads use whichever configured key the value names. Values are decrypted only
when ``Credential.secret()`` / ``passphrase()`` / ``private_key()`` is called, never in a repr.
"""

from __future__ import annotations

from .errors import (
    CredentialError,
    CredentialExists,
    CredentialInUse,
    CredentialNotFound,
    InvalidCredential,
    VaultNotMigrated,
)
from .errors import translate_errors as translate_errors
from .records import SECRET_PURPOSE as SECRET_PURPOSE
from .records import Credential, CredentialInfo, CredentialKind
from .reports import KeyUsage, VaultStatus, VerifyFailure, VerifyResult
from .store import CredentialStore
from .validation import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from .validation import MAX_PASSWORD_LENGTH as MAX_PASSWORD_LENGTH
from .validation import MAX_USERNAME_LENGTH as MAX_USERNAME_LENGTH
from .validation import check_name as check_name
from .validation import username_problem as username_problem

# The "X as X" imports are public too, though not listed below: other modules of the vault
# and SSH plugins import them from here.
__all__ = [
    "Credential",
    "CredentialError",
    "CredentialExists",
    "CredentialInUse",
    "CredentialInfo",
    "CredentialNotFound",
    "CredentialStore",
    "InvalidCredential",
    "KeyUsage",
    "CredentialKind",
    "VaultNotMigrated",
    "VaultStatus",
    "VerifyFailure",
    "VerifyResult",
]
