"""Envelope encryption and the store logic shared by every blob backend.

Each blob gets its own random 256-bit data key. The plaintext is sealed with AES-256-GCM under
that key, and the data key is sealed (wrapped) with AES-256-GCM under the store's master key.
Both seals bind the blob's digest as associated data, so a ciphertext or wrapped key moved to
another digest's name fails authentication. Destroying a blob deletes its wrapped key: the
ciphertext may survive in backups or replicas, but without the key it is noise
("crypto-shredding").

Sealed formats (bytes): ``b"FWB1" + nonce(12) + AES-GCM(data key, plaintext)`` for the
ciphertext and ``b"FWK1" + nonce(12) + AES-GCM(master key, data key)`` for the wrapped key.
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
import threading

from fairwheel.errors import NotFound, SchemaError, VerificationError

KEY_BYTES = 32
_NONCE = 12
_BLOB_MAGIC = b"FWB1"
_KEY_MAGIC = b"FWK1"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class BlobDestroyed(NotFound):
    """The blob existed but its key was destroyed: it can never be read again."""

    code = "blob_destroyed"


def digest_of(data: bytes) -> str:
    """The content digest ``"sha256:<hex>"`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """Return the digest's hex part.

    Raises:
        SchemaError: not of the form ``sha256:`` followed by 64 lowercase hex digits.
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise SchemaError(f"not a blob digest (sha256:<64 hex>): {digest!r}")
    return digest[len("sha256:") :]


def seal(master_key: bytes, digest: str, data: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``data`` under a fresh data key; return ``(wrapped_key, ciphertext)``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = AESGCM.generate_key(bit_length=256)
    aad = digest.encode()
    blob_nonce, key_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    ciphertext = _BLOB_MAGIC + blob_nonce + AESGCM(data_key).encrypt(blob_nonce, data, aad)
    wrapped = _KEY_MAGIC + key_nonce + AESGCM(master_key).encrypt(key_nonce, data_key, aad)
    return wrapped, ciphertext


def unseal(master_key: bytes, digest: str, wrapped: bytes, ciphertext: bytes) -> bytes:
    """Decrypt a blob and check that its plaintext hashes to ``digest``.

    Raises:
        VerificationError: a wrong master key, or a tampered, truncated or misfiled key or
            ciphertext.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aad = digest.encode()
    head = len(_BLOB_MAGIC) + _NONCE
    if not (wrapped.startswith(_KEY_MAGIC) and ciphertext.startswith(_BLOB_MAGIC)):
        raise VerificationError("blob or key has an unknown format", digest=digest)
    if len(wrapped) <= head or len(ciphertext) < head + 16:
        raise VerificationError("blob or key is truncated", digest=digest)
    try:
        data_key = AESGCM(master_key).decrypt(wrapped[4:head], wrapped[head:], aad)
        data = AESGCM(data_key).decrypt(ciphertext[4:head], ciphertext[head:], aad)
    except (InvalidTag, ValueError) as exc:
        raise VerificationError("blob failed authentication", digest=digest) from exc
    if digest_of(data) != digest:  # cannot happen with intact AES-GCM; defence in depth
        raise VerificationError("blob content does not match its digest", digest=digest)
    return data


class SealedBlobStore(abc.ABC):
    """put / get / destroy / exists over four storage primitives a backend implements.

    Storage states per digest: *absent*; *stored* (wrapped key and ciphertext); *destroyed*
    (a tombstone, so :meth:`get` can say ``blob_destroyed`` rather than ``not_found``). A
    ciphertext without a wrapped key and without a tombstone (a crash inside ``put``) counts as
    absent and is overwritten by the next ``put``.

    Args:
        master_key: The 32-byte key that wraps every data key.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._master = master_key
        self._lock = threading.Lock()

    # -- storage primitives ------------------------------------------------------------

    @abc.abstractmethod
    def _read(self, hexdigest: str) -> tuple[bytes | None, bytes | None]:
        """``(wrapped_key, ciphertext)``, each ``None`` when missing."""

    @abc.abstractmethod
    def _write(self, hexdigest: str, wrapped: bytes, ciphertext: bytes) -> None:
        """Store both (ciphertext first: the wrapped key is the commit) and drop any tombstone."""

    def _write_many(self, items: list[tuple[str, bytes, bytes]]) -> None:
        """Store many ``(hexdigest, wrapped, ciphertext)``; backends may batch durability."""
        for hexdigest, wrapped, ciphertext in items:
            self._write(hexdigest, wrapped, ciphertext)

    @abc.abstractmethod
    def _is_tombstoned(self, hexdigest: str) -> bool:
        """Whether the blob was destroyed."""

    @abc.abstractmethod
    def _shred(self, hexdigest: str) -> bool:
        """Tombstone, then erase the wrapped key and ciphertext; return whether any existed."""

    # -- the port ----------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        """Store ``data`` encrypted and return its digest ``"sha256:<hex>"``.

        Idempotent: a stored blob is not rewritten. Putting a destroyed blob's content again
        stores it anew under a new data key (the caller holds the plaintext, so nothing leaks).

        Raises:
            TypeError: ``data`` is not bytes-like.
            BackendError: the backend cannot write.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"put() takes bytes, got {type(data).__name__}")
        data = bytes(data)
        digest = digest_of(data)
        hexdigest = digest[len("sha256:") :]
        with self._lock:
            wrapped, ciphertext = self._read(hexdigest)
            if (
                wrapped is not None
                and ciphertext is not None
                and not self._is_tombstoned(hexdigest)
            ):
                return digest
            self._write(hexdigest, *seal(self._master, digest, data))
        return digest

    def put_many(self, items: list[bytes]) -> list[str]:
        """:meth:`put` for a batch, with one durability barrier instead of one per blob.

        Raises:
            TypeError: an item is not bytes-like.
            BackendError: the backend cannot write.
        """
        datas = []
        for data in items:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"put_many() takes bytes, got {type(data).__name__}")
            datas.append(bytes(data))
        digests = [digest_of(d) for d in datas]
        with self._lock:
            pending: dict[str, tuple[str, bytes, bytes]] = {}
            for digest, data in zip(digests, datas, strict=True):
                hexdigest = digest[len("sha256:") :]
                if hexdigest in pending:
                    continue
                wrapped, ciphertext = self._read(hexdigest)
                if wrapped is None or ciphertext is None or self._is_tombstoned(hexdigest):
                    pending[hexdigest] = (hexdigest, *seal(self._master, digest, data))
            if pending:
                self._write_many(list(pending.values()))
        return digests

    def get(self, digest: str) -> bytes:
        """The plaintext of a blob.

        Raises:
            SchemaError: malformed digest.
            BlobDestroyed: (a :class:`NotFound`, code ``blob_destroyed``) its key was destroyed.
            NotFound: no such blob.
            VerificationError: the stored bytes fail authentication.
        """
        hexdigest = check_digest(digest)
        if self._is_tombstoned(hexdigest):
            raise BlobDestroyed(f"blob {digest} was destroyed", digest=digest)
        wrapped, ciphertext = self._read(hexdigest)
        if wrapped is None or ciphertext is None:
            if self._is_tombstoned(hexdigest):  # destroyed while we were reading
                raise BlobDestroyed(f"blob {digest} was destroyed", digest=digest)
            raise NotFound(f"no blob {digest}", digest=digest)
        return unseal(self._master, digest, wrapped, ciphertext)

    def destroy(self, digest: str) -> None:
        """Crypto-shred a blob: delete its data key (and its ciphertext). Idempotent.

        Destroying a digest that was never stored does nothing.

        Raises:
            SchemaError: malformed digest.
            BackendError: the backend cannot delete.
        """
        hexdigest = check_digest(digest)
        with self._lock:
            self._shred(hexdigest)

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored and readable (``False`` once destroyed).

        Raises:
            SchemaError: malformed digest.
        """
        hexdigest = check_digest(digest)
        if self._is_tombstoned(hexdigest):
            return False
        wrapped, ciphertext = self._read(hexdigest)
        return wrapped is not None and ciphertext is not None
