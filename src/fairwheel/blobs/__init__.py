"""The blob store port: encrypted bytes, one key per stored copy, that can be crypto-shredded.

Backends, chosen by URL (:func:`open_blobs`):

==================  ==============================================================
``file:///abs/dir``  files under ``dir``, master key in ``dir/master.key`` (0600)
``memory://``        a dict in this process (tests); same encryption
==================  ==============================================================

Blobs are *not* content-addressed: every :meth:`BlobStore.put` stores a new copy under a fresh
random name (``"blob:<32 hex>"``) and AES-256-GCM encrypts it under its own data key, wrapped by
the master key together with the content's SHA-256 (checked on every read). Two copies of the
same bytes — the same text contributed to two pools — share nothing, so
:meth:`BlobStore.destroy` of one deletes exactly that copy's wrapped key; after it,
:meth:`BlobStore.get` of that name raises :class:`BlobDestroyed` (a ``NotFound`` with code
``blob_destroyed``) while the other copy stays readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from fairwheel.blobs.sealed import check_name
from fairwheel.errors import BlobDestroyed, ConfigError

__all__ = ["BlobDestroyed", "BlobStore", "check_name", "open_blobs"]


@runtime_checkable
class BlobStore(Protocol):
    """Encrypted, destroyable bytes, one data key per stored copy."""

    def put(self, data: bytes) -> str:
        """Store a new copy of ``data``; return its fresh name ``"blob:<hex>"``."""
        ...

    def put_many(self, items: list[bytes]) -> list[str]:
        """``put`` for a batch (a copy per item), with one durability barrier for all of it."""
        ...

    def get(self, name: str) -> bytes:
        """The plaintext; ``NotFound`` if absent, ``BlobDestroyed`` if destroyed."""
        ...

    def destroy(self, name: str) -> None:
        """Delete this copy's data key so it can never be read again. Idempotent."""
        ...

    def exists(self, name: str) -> bool:
        """Whether the copy is stored and not destroyed."""
        ...


def open_blobs(url: str) -> BlobStore:
    """Open the blob store a URL names.

    Args:
        url: ``file:///absolute/folder`` or ``memory://``.

    Returns:
        The store (the folder and master key are created on first use).

    Raises:
        ConfigError: unknown scheme or a relative path.
        BackendError: the folder or master key cannot be created or read.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        from fairwheel.blobs.memory import MemoryBlobStore

        return MemoryBlobStore()
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ConfigError(f"file:// needs an absolute folder, e.g. file:///var/blobs: {url!r}")
        from fairwheel.blobs.file import FileBlobStore

        return FileBlobStore(Path(path))
    raise ConfigError(f"unknown blob store URL {url!r}: expected file:///abs/dir or memory://")
