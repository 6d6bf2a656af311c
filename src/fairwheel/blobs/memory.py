"""``memory://``: blobs in a dict, for tests. Same encryption and semantics as ``file://``."""

from __future__ import annotations

import os

from fairwheel.blobs.sealed import KEY_BYTES, SealedBlobStore


class MemoryBlobStore(SealedBlobStore):
    """Encrypted blobs held in process memory under a random per-instance master key.

    The sealed bytes are kept exactly as ``file://`` would write them, so the conformance
    tests exercise the same crypto (tampering, misfiling, destruction) on both. The dicts are
    keyed by the hex part of each blob's name.
    """

    def __init__(self) -> None:
        super().__init__(os.urandom(KEY_BYTES))
        self.keys: dict[str, bytes] = {}
        self.data: dict[str, bytes] = {}
        self.tombstones: set[str] = set()

    def _read(self, key: str) -> tuple[bytes | None, bytes | None]:
        return self.keys.get(key), self.data.get(key)

    def _write(self, key: str, wrapped: bytes, ciphertext: bytes) -> None:
        self.data[key] = ciphertext
        self.keys[key] = wrapped

    def _is_tombstoned(self, key: str) -> bool:
        return key in self.tombstones

    def _shred(self, key: str) -> bool:
        known = key in self.keys or key in self.data or key in self.tombstones
        if known:
            self.tombstones.add(key)
            self.keys.pop(key, None)
            self.data.pop(key, None)
        return known
