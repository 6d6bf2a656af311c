"""``file:///abs/dir``: encrypted blobs in a folder, one file pair per stored copy.

Layout (``<hex>`` = the 32 hex digits of a blob's random name ``blob:<hex>``, ``hh`` = its
first two, to keep folders small)::

    dir/master.key                 32 random bytes, mode 0600, created on first use
    dir/data/hh/<hex>              ciphertext (AES-256-GCM under the blob's data key)
    dir/keys/hh/<hex>.key          the data key and content digest, wrapped by the master key
    dir/keys/hh/<hex>.destroyed    tombstone of a destroyed blob (empty)

Every file is written to a temporary name, synced and renamed into place. Destroying a blob
overwrites its wrapped key with random bytes before unlinking it; on copy-on-write or
wear-levelled storage the overwrite is best effort, which is why the key is wrapped: without
the master key, a recovered wrapped key is useless too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from pathlib import Path

from fairwheel.blobs.sealed import KEY_BYTES, SealedBlobStore
from fairwheel.errors import BackendError

log = logging.getLogger(__name__)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _replace_unsynced(path: str, data: bytes, folders: set[str]) -> None:
    """Write via a temp file and rename; the caller makes the batch durable. ``folders`` are
    the ones known to exist (a batch writes 200 files into at most 256 of them)."""
    folder, _, name = path.rpartition("/")
    if folder not in folders:
        os.makedirs(folder, exist_ok=True)
        folders.add(folder)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_or_none(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def load_master_key(path: Path) -> bytes:
    """Read the master key, creating it (mode 0600) if missing; safe against a racing creator.

    Raises:
        BackendError: the key file cannot be created or has the wrong length.
    """
    try:
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                # link() fails if the file exists, so a concurrent first use keeps one key.
                os.link(tmp, path)
                _fsync_dir(path.parent)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise BackendError(f"cannot read or create master key {path}: {exc}") from exc
    if len(key) != KEY_BYTES:
        raise BackendError(f"master key {path} must be {KEY_BYTES} bytes, found {len(key)}")
    if mode & 0o077:
        log.warning("master key %s is readable by group or others (mode %o)", path, mode & 0o777)
    return key


class FileBlobStore(SealedBlobStore):
    """Encrypted blobs under a folder (see the module docstring).

    Args:
        root: The folder (created with mode 0700 if missing).

    Raises:
        BackendError: the folder or master key cannot be created or read.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create blob folder {self.root}: {exc}") from exc
        super().__init__(load_master_key(self.root / "master.key"))
        self._root_str = str(self.root)
        self._folders: set[str] = set()

    # The layout, as plain strings: a paid search reads ten blobs, and pathlib's parsing cost
    # more than the decryption.
    def _data_file(self, key: str) -> str:
        return f"{self._root_str}/data/{key[:2]}/{key}"

    def _key_file(self, key: str, suffix: str = ".key") -> str:
        return f"{self._root_str}/keys/{key[:2]}/{key}{suffix}"

    def _data_path(self, key: str) -> Path:
        return Path(self._data_file(key))

    def _key_path(self, key: str, suffix: str = ".key") -> Path:
        return Path(self._key_file(key, suffix))

    def _read(self, key: str) -> tuple[bytes | None, bytes | None]:
        try:
            return _read_or_none(self._key_file(key)), _read_or_none(self._data_file(key))
        except OSError as exc:
            raise BackendError(f"cannot read blob blob:{key}: {exc}") from exc

    def _write(self, key: str, wrapped: bytes, ciphertext: bytes) -> None:
        try:
            _atomic_write(self._data_path(key), ciphertext)
            _atomic_write(self._key_path(key), wrapped)
        except OSError as exc:
            raise BackendError(f"cannot write blob blob:{key}: {exc}") from exc

    def _write_many(self, items: list[tuple[str, bytes, bytes]]) -> None:
        # Same order as _write (ciphertexts, then the wrapped keys that commit them), but
        # each phase is made durable by one sync rather than two fsyncs per file.
        try:
            for key, _, ciphertext in items:
                _replace_unsynced(self._data_file(key), ciphertext, self._folders)
            os.sync()
            for key, wrapped, _ in items:
                _replace_unsynced(self._key_file(key), wrapped, self._folders)
            os.sync()
        except OSError as exc:
            raise BackendError(f"cannot write {len(items)} blobs: {exc}") from exc

    def _is_tombstoned(self, key: str) -> bool:
        return os.path.exists(self._key_file(key, ".destroyed"))

    def _shred(self, key: str) -> bool:
        key_path, data_path = self._key_path(key), self._data_path(key)
        tomb = self._key_path(key, ".destroyed")
        if not (key_path.exists() or data_path.exists() or tomb.exists()):
            return False
        try:
            # Tombstone first: a crash below still reports the blob as destroyed.
            if not tomb.exists():
                _atomic_write(tomb, b"")
            if key_path.exists():
                size = key_path.stat().st_size
                with open(key_path, "r+b") as fh:
                    fh.write(os.urandom(size))
                    fh.flush()
                    os.fsync(fh.fileno())
                key_path.unlink()
            data_path.unlink(missing_ok=True)
            _fsync_dir(key_path.parent)
        except OSError as exc:
            raise BackendError(f"cannot destroy blob blob:{key}: {exc}") from exc
        return True
