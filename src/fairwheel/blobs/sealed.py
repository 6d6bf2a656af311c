"""Envelope encryption and the store logic shared by every blob backend.

Every :meth:`~SealedBlobStore.put` stores a new *copy*: a fresh random name
(``"blob:<32 hex>"``, 128 bits) and a fresh random 256-bit data key, even for content stored
before. The plaintext is sealed with AES-256-GCM under the data key; the data key, together
with the plaintext's SHA-256, is sealed (wrapped) with AES-256-GCM under the store's master key.
The wrapped key binds the name as associated data and the ciphertext binds the name and the
content digest, so a ciphertext or wrapped key moved to another name fails authentication, and
the plaintext's SHA-256 is checked again after decryption. Destroying a copy deletes its
wrapped key: the ciphertext may survive in backups or replicas, but without the key it is noise
("crypto-shredding"). Other copies of the same content have their own keys and stay readable.

Sealed formats (bytes): ``b"FWB2" + nonce(12) + AES-GCM(data key, plaintext)`` for the
ciphertext and ``b"FWK2" + nonce(12) + AES-GCM(master key, data key ‖ sha256(plaintext))``
for the wrapped key.
"""

from __future__ import annotations

import abc
import hashlib
import os
import re
import threading

from fairwheel.errors import BlobDestroyed, NotFound, SchemaError, VerificationError

KEY_BYTES = 32
NAME_PREFIX = "blob:"
_NONCE = 12
_DIGEST_BYTES = 32
_BLOB_MAGIC = b"FWB2"
_KEY_MAGIC = b"FWK2"
_NAME = re.compile(r"blob:[0-9a-f]{32}")


def new_name() -> str:
    """A fresh random blob name ``"blob:<32 hex>"``."""
    return NAME_PREFIX + os.urandom(16).hex()


def check_name(name: str) -> str:
    """Return the name's hex part (the storage key).

    Raises:
        SchemaError: not of the form ``blob:`` followed by 32 lowercase hex digits.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SchemaError(f"not a blob name (blob:<32 hex>): {name!r}")
    return name[len(NAME_PREFIX) :]


def seal(master_key: bytes, name: str, data: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``data`` under a fresh data key; return ``(wrapped_key, ciphertext)``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = AESGCM.generate_key(bit_length=256)
    digest = hashlib.sha256(data).digest()
    blob_nonce, key_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    body = AESGCM(data_key).encrypt(blob_nonce, data, name.encode() + digest)
    wrapped = AESGCM(master_key).encrypt(key_nonce, data_key + digest, name.encode())
    return _KEY_MAGIC + key_nonce + wrapped, _BLOB_MAGIC + blob_nonce + body


def unseal(master_key: bytes, name: str, wrapped: bytes, ciphertext: bytes) -> bytes:
    """Decrypt a blob and check that its plaintext hashes to the digest sealed with its key.

    Raises:
        VerificationError: a wrong master key, or a tampered, truncated or misfiled key or
            ciphertext.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    head = len(_BLOB_MAGIC) + _NONCE
    if not (wrapped.startswith(_KEY_MAGIC) and ciphertext.startswith(_BLOB_MAGIC)):
        raise VerificationError("blob or key has an unknown format", blob=name)
    if len(wrapped) <= head or len(ciphertext) < head + 16:
        raise VerificationError("blob or key is truncated", blob=name)
    try:
        opened = AESGCM(master_key).decrypt(wrapped[4:head], wrapped[head:], name.encode())
        if len(opened) != KEY_BYTES + _DIGEST_BYTES:
            raise ValueError("wrapped key has the wrong length")
        data_key, digest = opened[:KEY_BYTES], opened[KEY_BYTES:]
        aad = name.encode() + digest
        data = AESGCM(data_key).decrypt(ciphertext[4:head], ciphertext[head:], aad)
    except (InvalidTag, ValueError) as exc:
        raise VerificationError("blob failed authentication", blob=name) from exc
    if hashlib.sha256(data).digest() != digest:  # cannot happen with intact AES-GCM
        raise VerificationError("blob content does not match its digest", blob=name)
    return data


def _as_bytes(data: object, call: str) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{call}() takes bytes, got {type(data).__name__}")
    return bytes(data)


class SealedBlobStore(abc.ABC):
    """put / get / destroy / exists over four storage primitives a backend implements.

    Storage states per name: *absent*; *stored* (wrapped key and ciphertext); *destroyed*
    (a tombstone, so :meth:`get` can say ``blob_destroyed`` rather than ``not_found``). A
    ciphertext without a wrapped key and without a tombstone (a crash inside ``put``) counts as
    absent; its name was never handed out, so nothing refers to it.

    Args:
        master_key: The 32-byte key that wraps every data key.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._master = master_key
        self._lock = threading.Lock()

    # -- storage primitives (``key`` is the name's hex part) --------------------------

    @abc.abstractmethod
    def _read(self, key: str) -> tuple[bytes | None, bytes | None]:
        """``(wrapped_key, ciphertext)``, each ``None`` when missing."""

    @abc.abstractmethod
    def _write(self, key: str, wrapped: bytes, ciphertext: bytes) -> None:
        """Store both (ciphertext first: the wrapped key is the commit)."""

    def _write_many(self, items: list[tuple[str, bytes, bytes]]) -> None:
        """Store many ``(key, wrapped, ciphertext)``; backends may batch durability."""
        for key, wrapped, ciphertext in items:
            self._write(key, wrapped, ciphertext)

    @abc.abstractmethod
    def _is_tombstoned(self, key: str) -> bool:
        """Whether the blob was destroyed."""

    @abc.abstractmethod
    def _shred(self, key: str) -> bool:
        """Tombstone, then erase the wrapped key and ciphertext; return whether any existed."""

    # -- the port ----------------------------------------------------------------------

    def _fresh(self, taken: set[str]) -> str:
        """A name no blob has or had, nor one in ``taken``: 128 random bits, checked anyway."""
        while True:
            name = new_name()
            key = name[len(NAME_PREFIX) :]
            if (
                name not in taken
                and not self._is_tombstoned(key)
                and self._read(key) == (None, None)
            ):
                return name

    def put(self, data: bytes) -> str:
        """Store a new encrypted copy of ``data``; return its fresh name ``"blob:<hex>"``.

        Every call stores a separate copy under its own name and data key, also for content
        stored (or destroyed) before, so destroying one copy never touches another.

        Raises:
            TypeError: ``data`` is not bytes-like.
            BackendError: the backend cannot write.
        """
        return self.put_many([_as_bytes(data, "put")])[0]

    def put_many(self, items: list[bytes]) -> list[str]:
        """:meth:`put` for a batch (one copy per item, equal items included), with one
        durability barrier instead of one per blob; the names are in the items' order.

        Raises:
            TypeError: an item is not bytes-like.
            BackendError: the backend cannot write.
        """
        datas = [_as_bytes(data, "put_many") for data in items]
        with self._lock:
            names: list[str] = []
            taken: set[str] = set()
            sealed: list[tuple[str, bytes, bytes]] = []
            for data in datas:
                name = self._fresh(taken)
                names.append(name)
                taken.add(name)
                sealed.append((name[len(NAME_PREFIX) :], *seal(self._master, name, data)))
            if len(sealed) == 1:
                self._write(*sealed[0])
            elif sealed:
                self._write_many(sealed)
        return names

    def get(self, name: str) -> bytes:
        """The plaintext of a blob.

        Raises:
            SchemaError: malformed name.
            BlobDestroyed: (a :class:`NotFound`, code ``blob_destroyed``) its key was destroyed.
            NotFound: no such blob.
            VerificationError: the stored bytes fail authentication.
        """
        key = check_name(name)
        if self._is_tombstoned(key):
            raise BlobDestroyed(f"blob {name} was destroyed", blob=name)
        wrapped, ciphertext = self._read(key)
        if wrapped is None or ciphertext is None:
            if self._is_tombstoned(key):  # destroyed while we were reading
                raise BlobDestroyed(f"blob {name} was destroyed", blob=name)
            raise NotFound(f"no blob {name}", blob=name)
        return unseal(self._master, name, wrapped, ciphertext)

    def destroy(self, name: str) -> None:
        """Crypto-shred one copy: delete its data key (and its ciphertext). Idempotent.

        Destroying a name that was never stored does nothing.

        Raises:
            SchemaError: malformed name.
            BackendError: the backend cannot delete.
        """
        key = check_name(name)
        with self._lock:
            self._shred(key)

    def exists(self, name: str) -> bool:
        """Whether the blob is stored and readable (``False`` once destroyed).

        Raises:
            SchemaError: malformed name.
        """
        key = check_name(name)
        if self._is_tombstoned(key):
            return False
        wrapped, ciphertext = self._read(key)
        return wrapped is not None and ciphertext is not None
