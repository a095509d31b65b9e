"""Decrypted private keys kept in memory per credential version, so bcrypt runs once per key.

An OpenSSH key's passphrase costs ``rounds`` bcrypt runs (about 120 ms at ssh-keygen's default
16) every time the key is decrypted; without a cache every SSH call paid it. An entry is keyed by
the row's id, its ``version`` (bumped by every ``put``) and a digest of the stored ciphertexts
(re-encrypted by ``rotate``), so a changed, rotated, deleted and re-created or hand-edited row
misses and is loaded afresh. Entries live in this process only (never on disk, never pickled);
``discard`` drops a deleted credential's key, and at most ``MAX_ENTRIES`` keys are kept (least
recently used out). Concurrent misses for the same entry decrypt once (one lock per entry).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable

import paramiko

__all__ = ["MAX_ENTRIES", "CacheKey", "KeyCache", "cache_key"]

MAX_ENTRIES = 256

CacheKey = tuple[uuid.UUID, int, bytes]


def cache_key(row_id: uuid.UUID, version: int, secret: bytes, passphrase: bytes | None) -> CacheKey:
    """The entry of one stored version of a key: id, version and a digest of its ciphertexts."""
    digest = hashlib.sha256(secret)
    digest.update(b"\x00" + (passphrase or b""))
    return (row_id, version, digest.digest())


class KeyCache:
    """Thread-safe, bounded map from a stored key version to its loaded paramiko key."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        """Keep at most ``max_entries`` keys."""
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._keys: OrderedDict[CacheKey, paramiko.PKey] = OrderedDict()
        self._loading: dict[CacheKey, threading.Lock] = {}
        self.loads = 0  # how many times a key was actually decrypted (for tests and benchmarks)

    def __repr__(self) -> str:
        return f"KeyCache({len(self._keys)}/{self.max_entries} keys)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KeyCache cannot be pickled")

    def get(self, key: CacheKey, load: Callable[[], paramiko.PKey]) -> paramiko.PKey:
        """The cached key for ``key``, else ``load()`` once (an error is not cached)."""
        with self._lock:
            found = self._hit(key)
            if found is not None:
                return found
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                found = self._hit(key)
                if found is not None:
                    return found
            try:
                pkey = load()
            except BaseException:
                with self._lock:
                    self._loading.pop(key, None)
                raise
            with self._lock:
                self.loads += 1
                self._store(key, pkey)
                self._loading.pop(key, None)
            return pkey

    def discard(self, row_id: uuid.UUID) -> None:
        """Forget every version of credential ``row_id`` (deleted)."""
        with self._lock:
            for key in [k for k in self._keys if k[0] == row_id]:
                del self._keys[key]

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._keys.clear()

    def __len__(self) -> int:
        return len(self._keys)

    def _hit(self, key: CacheKey) -> paramiko.PKey | None:
        found = self._keys.get(key)
        if found is not None:
            self._keys.move_to_end(key)
        return found

    def _store(self, key: CacheKey, pkey: paramiko.PKey) -> None:
        for stale in [k for k in self._keys if k[0] == key[0] and k != key]:
            del self._keys[stale]  # an older version of the same credential
        self._keys[key] = pkey
        while len(self._keys) > self.max_entries:
            self._keys.popitem(last=False)
