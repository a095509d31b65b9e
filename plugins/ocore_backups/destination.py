"""Where backups are stored, behind a small interface: ``Destination``.

A run writes into a temporary object (``open_temp``), which becomes a backup only through
``commit`` (durable, then atomically visible under its final name) or disappears with
``abort``. Stored backups are addressed by a key ``<policy>/<file name>``, relative to the
destination, so the folder can move. ``DirectoryDestination`` (a local folder) is the one
implementation; an S3-compatible store would map ``open_temp`` to a multipart upload,
``commit`` to completing it and ``abort`` to aborting it.
"""

from __future__ import annotations

import os
import re
import secrets
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

KEY_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}/[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
TEMP_PREFIX = ".tmp-"
DIR_MODE = 0o700
FILE_MODE = 0o600


class DestinationError(Exception):
    """The destination refused an operation (a bad key, a missing file)."""


@runtime_checkable
class Upload(Protocol):
    """A temporary object being written: bytes go in with ``write``."""

    def write(self, data: bytes, /) -> object: ...


@runtime_checkable
class Destination(Protocol):
    """Storage for backup files: temporary writes, atomic commits, reads and deletes."""

    def open_temp(self, policy: str) -> Upload:
        """A new temporary object in ``policy``'s folder, invisible as a backup."""
        ...

    def commit(self, upload: Upload, name: str) -> str:
        """Make ``upload`` durable and visible as ``name``; returns its key."""
        ...

    def abort(self, upload: Upload) -> None:
        """Throw ``upload`` away (after a failure); never raises."""
        ...

    def open_read(self, key: str) -> BinaryIO:
        """The stored backup ``key`` for reading (DestinationError when missing)."""
        ...

    def delete(self, key: str) -> bool:
        """Delete backup ``key``; False when it was already gone."""
        ...

    def describe(self) -> str:
        """Where this is, for messages."""
        ...


def check_key(key: str) -> str:
    """``key`` when it is ``<policy>/<file>`` without any path trick, else DestinationError."""
    if not KEY_RE.fullmatch(key) or ".." in key:
        raise DestinationError(f"not a backup key: {key!r}")
    return key


class TempFile:
    """A temporary file opened 0600 with O_EXCL in the policy's folder."""

    def __init__(self, folder: Path, policy: str) -> None:
        self.folder = folder
        self.policy = policy
        self.path = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        self.file = os.fdopen(fd, "wb", buffering=0)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:  # a raw file may write less than asked
            written = self.file.write(view)
            if not written:
                raise OSError("short write")
            view = view[written:]
        return len(data)


class DirectoryDestination:
    """Backups as files in a local folder: ``<root>/<policy>/<name>``, folders 0700, files
    0600, written to a temporary name, fsynced (file and folder) and renamed on commit."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"<DirectoryDestination {self.root}>"

    def describe(self) -> str:
        """The folder."""
        return str(self.root)

    def _folder(self, policy: str) -> Path:
        """``<root>/<policy>``, created owner-only (the root too) when missing."""
        folder = self.root / check_key(f"{policy}/x").split("/")[0]
        for path in (self.root, folder):
            if not path.is_dir():
                path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                path.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
        return folder

    def path_of(self, key: str) -> Path:
        """The file of backup ``key``."""
        return self.root / check_key(key)

    def open_temp(self, policy: str) -> TempFile:
        """A new 0600 temporary file in the policy's folder."""
        return TempFile(self._folder(policy), policy)

    def commit(self, upload: Upload, name: str) -> str:
        """fsync the file, rename it to ``name`` (never over an existing file), fsync the
        folder; returns ``<policy>/<name>``."""
        temp = _temp(upload)
        key = check_key(f"{temp.policy}/{name}")
        final = self.root / key
        try:
            os.fsync(temp.file.fileno())
            temp.file.close()
            os.link(temp.path, final)  # fails if ``final`` exists: nothing is ever replaced
            os.unlink(temp.path)
            _fsync_dir(temp.folder)
        except BaseException:
            self.abort(temp)
            raise
        return key

    def abort(self, upload: Upload) -> None:
        """Close and remove the temporary file."""
        temp = _temp(upload)
        with suppress(OSError):
            temp.file.close()
        with suppress(OSError):
            temp.path.unlink()

    def open_read(self, key: str) -> BinaryIO:
        """The stored file, opened for reading."""
        try:
            return self.path_of(key).open("rb")
        except FileNotFoundError:
            raise DestinationError(f"backup file {key} is missing from {self.root}") from None

    def delete(self, key: str) -> bool:
        """Remove the stored file and fsync its folder."""
        path = self.path_of(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def stale_temps(self, policy: str) -> list[Path]:
        """Temporary files left in ``policy``'s folder (by a killed worker)."""
        folder = self.root / policy
        return sorted(folder.glob(f"{TEMP_PREFIX}*")) if folder.is_dir() else []


def _temp(upload: Upload) -> TempFile:
    if not isinstance(upload, TempFile):
        raise TypeError(f"not an upload of this destination: {type(upload).__name__}")
    return upload


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
