"""``memory://``: blobs in a dict, for tests. Same encryption and semantics as ``file://``."""

from __future__ import annotations

import os

from fairwheel.blobs.sealed import KEY_BYTES, SealedBlobStore


class MemoryBlobStore(SealedBlobStore):
    """Encrypted blobs held in process memory under a random per-instance master key.

    The sealed bytes are kept exactly as ``file://`` would write them, so the conformance
    tests exercise the same crypto (tampering, misfiling, destruction) on both.
    """

    def __init__(self) -> None:
        super().__init__(os.urandom(KEY_BYTES))
        self.keys: dict[str, bytes] = {}
        self.data: dict[str, bytes] = {}
        self.tombstones: set[str] = set()

    def _read(self, hexdigest: str) -> tuple[bytes | None, bytes | None]:
        return self.keys.get(hexdigest), self.data.get(hexdigest)

    def _write(self, hexdigest: str, wrapped: bytes, ciphertext: bytes) -> None:
        self.data[hexdigest] = ciphertext
        self.keys[hexdigest] = wrapped
        self.tombstones.discard(hexdigest)

    def _is_tombstoned(self, hexdigest: str) -> bool:
        return hexdigest in self.tombstones

    def _shred(self, hexdigest: str) -> bool:
        known = hexdigest in self.keys or hexdigest in self.data or hexdigest in self.tombstones
        if known:
            self.tombstones.add(hexdigest)
            self.keys.pop(hexdigest, None)
            self.data.pop(hexdigest, None)
        return known
