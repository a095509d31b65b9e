"""Secret fingerprints: an HMAC-SHA256 under a per-installation key that never leaves the
machine, so two deployments on one machine (or a value before and after a rotation) can be
compared, while a shown fingerprint cannot be checked offline against guessed values.

The key is 32 random bytes, written once (hex, mode 0600, directory 0700) to
``OCORE_FINGERPRINT_KEY_FILE``, by default ``$XDG_STATE_HOME/ocore/fingerprint.key`` or
``~/.local/state/ocore/fingerprint.key``. When it can be neither read nor created, secrets are
shown without any fingerprint: nothing derived from the value is ever shown unkeyed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

KEY_VARIABLE = "OCORE_FINGERPRINT_KEY_FILE"
KEY_BYTES = 32
SHOWN_HEX = 8
# Domain separation: this key never authenticates anything else, but a label costs nothing.
_LABEL = b"ocore secret fingerprint v1\x00"


def default_key_path(environ: Mapping[str, str] | None = None) -> str | None:
    """``$XDG_STATE_HOME/ocore/fingerprint.key``, else ``~/.local/state/ocore/…``; None when
    there is no home directory to put it in."""
    environ = os.environ if environ is None else environ
    state = environ.get("XDG_STATE_HOME", "")
    if state and os.path.isabs(state):  # the XDG spec: relative values are ignored
        return os.path.join(state, "ocore", "fingerprint.key")
    home = environ.get("HOME", "")
    if not home or not os.path.isabs(home):
        try:
            home = str(Path.home())
        except (RuntimeError, KeyError):
            return None
    return os.path.join(home, ".local", "state", "ocore", "fingerprint.key")


def load_key(path: str | os.PathLike[str]) -> bytes | None:
    """The installation's key from ``path``, created there (and its directories) when missing;
    None when it cannot be read or created, or holds anything but a key we wrote."""
    path = Path(path)
    key = _read(path)
    if key is not None:
        return key
    if path.exists():  # damaged, or linked into place by a racing process since the read
        return _read(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _create(path)
    except OSError:
        return None


def fingerprint(key: bytes, text: str) -> str:
    """The first hex digits of HMAC-SHA256(key, text): comparable under one key only."""
    message = _LABEL + text.encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:SHOWN_HEX]


def _read(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            content = handle.read(4 * KEY_BYTES)
    except OSError:
        return None
    try:
        key = bytes.fromhex(content.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def _create(path: Path) -> bytes | None:
    """Write a fresh key atomically: a private temporary file linked into place, so a process
    racing us reads either nothing or the whole key, and the first writer wins."""
    fd, temporary = tempfile.mkstemp(prefix=".fingerprint-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
    finally:
        os.unlink(temporary)
    return _read(path)
