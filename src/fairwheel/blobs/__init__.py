"""The blob store port: encrypted, content-addressed bytes that can be crypto-shredded.

Backends, chosen by URL (:func:`open_blobs`):

==================  ==============================================================
``file:///abs/dir``  files under ``dir``, master key in ``dir/master.key`` (0600)
``memory://``        a dict in this process (tests); same encryption
==================  ==============================================================

Every blob is AES-256-GCM encrypted under its own data key, which is wrapped by the master
key; :meth:`BlobStore.destroy` deletes the wrapped key, after which :meth:`BlobStore.get`
raises :class:`BlobDestroyed` (a ``NotFound`` with code ``blob_destroyed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from fairwheel.blobs.sealed import BlobDestroyed, digest_of
from fairwheel.errors import ConfigError

__all__ = ["BlobDestroyed", "BlobStore", "digest_of", "open_blobs"]


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed, encrypted, destroyable bytes."""

    def put(self, data: bytes) -> str:
        """Store ``data``; return ``"sha256:<hex>"`` of the plaintext. Idempotent."""
        ...

    def put_many(self, items: list[bytes]) -> list[str]:
        """``put`` for a batch, with one durability barrier for all of it."""
        ...

    def get(self, digest: str) -> bytes:
        """The plaintext; ``NotFound`` if absent, ``BlobDestroyed`` if destroyed."""
        ...

    def destroy(self, digest: str) -> None:
        """Delete the blob's data key so it can never be read again. Idempotent."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored and not destroyed."""
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
