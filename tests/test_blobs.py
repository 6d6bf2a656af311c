"""Conformance tests of the blob store port, run against every backend.

Blobs are copies, not content-addressed: every put gets a fresh name and data key, so
destroying one copy of some bytes never touches another copy of the same bytes (issue #12).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fairwheel.blobs import BlobDestroyed, BlobStore, open_blobs
from fairwheel.blobs.file import FileBlobStore
from fairwheel.blobs.memory import MemoryBlobStore
from fairwheel.errors import ConfigError, NotFound, SchemaError, VerificationError

SECRET = b"attack at dawn -- a very distinctive plaintext 7f3a9c"
NEVER_STORED = "blob:" + "ab" * 16


@dataclass
class Raw:
    """Backend-specific access to the sealed bytes, for tampering."""

    read: Callable[[str], tuple[bytes | None, bytes | None]]
    write: Callable[[str, bytes | None, bytes | None], None]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _raw_for(store: BlobStore) -> Raw:
    if isinstance(store, MemoryBlobStore):

        def read_mem(digest: str) -> tuple[bytes | None, bytes | None]:
            return store.keys.get(_hex(digest)), store.data.get(_hex(digest))

        def write_mem(digest: str, key: bytes | None, data: bytes | None) -> None:
            if key is not None:
                store.keys[_hex(digest)] = key
            if data is not None:
                store.data[_hex(digest)] = data

        return Raw(read_mem, write_mem)
    assert isinstance(store, FileBlobStore)

    def paths(digest: str) -> tuple[Path, Path]:
        h = _hex(digest)
        return store.root / "keys" / h[:2] / f"{h}.key", store.root / "data" / h[:2] / h

    def read_file(digest: str) -> tuple[bytes | None, bytes | None]:
        return tuple(p.read_bytes() if p.exists() else None for p in paths(digest))  # type: ignore[return-value]

    def write_file(digest: str, key: bytes | None, data: bytes | None) -> None:
        for path, content in zip(paths(digest), (key, data), strict=True):
            if content is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)

    return Raw(read_file, write_file)


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return open_blobs("memory://")
    return open_blobs(f"file://{tmp_path / 'blobs'}")


def test_roundtrip_under_a_fresh_name(store: BlobStore) -> None:
    for data in (SECRET, b"", os.urandom(1 << 20)):
        name = store.put(data)
        assert name.startswith("blob:") and len(name) == len("blob:") + 32
        assert store.exists(name)
        assert store.get(name) == data


def test_put_accepts_bytes_like_and_refuses_text(store: BlobStore) -> None:
    assert store.get(store.put(bytearray(b"abc"))) == b"abc"  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("text")  # type: ignore[arg-type]


def test_each_put_is_its_own_copy_with_its_own_key(store: BlobStore) -> None:
    raw = _raw_for(store)
    first, second = store.put(SECRET), store.put(SECRET)
    third, fourth = store.put_many([SECRET, SECRET])
    names = [first, second, third, fourth]
    assert len(set(names)) == 4
    wrapped = [raw.read(n)[0] for n in names]
    assert len(set(wrapped)) == 4  # a data key per copy
    store.destroy(first)
    assert all(store.get(n) == SECRET for n in names[1:])  # the other copies are untouched
    with pytest.raises(BlobDestroyed):
        store.get(first)


def test_absent_blob_is_not_found(store: BlobStore) -> None:
    digest = NEVER_STORED
    assert not store.exists(digest)
    with pytest.raises(NotFound) as info:
        store.get(digest)
    assert info.value.code == "not_found" and not isinstance(info.value, BlobDestroyed)


def test_destroy_makes_the_blob_unreadable_forever(store: BlobStore) -> None:
    raw = _raw_for(store)
    digest = store.put(SECRET)
    other = store.put(b"another blob")
    store.destroy(digest)
    store.destroy(digest)  # idempotent
    assert not store.exists(digest)
    with pytest.raises(NotFound) as info:
        store.get(digest)
    assert info.value.code == "blob_destroyed"
    assert info.value.to_dict()["code"] == "blob_destroyed"
    assert raw.read(digest)[0] is None  # the wrapped data key is gone
    assert store.get(other) == b"another blob"  # other blobs are untouched


def test_destroying_an_unknown_blob_is_a_no_op(store: BlobStore) -> None:
    digest = NEVER_STORED
    store.destroy(digest)
    with pytest.raises(NotFound) as info:
        store.get(digest)
    assert info.value.code == "not_found"


def test_content_put_again_after_destroy_is_a_new_copy(store: BlobStore) -> None:
    digest = store.put(SECRET)
    store.destroy(digest)
    again = store.put(SECRET)
    assert again != digest and store.get(again) == SECRET
    assert not store.exists(digest)  # the destroyed name stays destroyed


@pytest.mark.parametrize("part", ["key", "data"])
def test_tampering_fails_authentication(store: BlobStore, part: str) -> None:
    raw = _raw_for(store)
    digest = store.put(SECRET)
    key, data = raw.read(digest)
    assert key is not None and data is not None
    target = bytearray(key if part == "key" else data)
    target[-5] ^= 0x01
    if part == "key":
        raw.write(digest, bytes(target), None)
    else:
        raw.write(digest, None, bytes(target))
    with pytest.raises(VerificationError):
        store.get(digest)


def test_truncated_ciphertext_fails_authentication(store: BlobStore) -> None:
    raw = _raw_for(store)
    digest = store.put(SECRET)
    raw.write(digest, None, raw.read(digest)[1][:20])  # type: ignore[index]
    with pytest.raises(VerificationError):
        store.get(digest)


def test_files_swapped_between_digests_fail_authentication(store: BlobStore) -> None:
    raw = _raw_for(store)
    a, b = store.put(b"blob a"), store.put(b"blob b")
    key_a, data_a = raw.read(a)
    raw.write(b, key_a, data_a)  # a's key and ciphertext under b's name
    with pytest.raises(VerificationError):
        store.get(b)
    raw.write(b, None, raw.read(a)[1])  # only the ciphertext moved
    with pytest.raises(VerificationError):
        store.get(b)


@pytest.mark.parametrize(
    "bad", ["", "blob:xyz", "sha256:" + "0" * 64, "blob:../../etc/passwd", "blob:" + "A" * 32]
)
def test_malformed_digests_are_refused(store: BlobStore, bad: str) -> None:
    for call in (store.get, store.exists, store.destroy):
        with pytest.raises(SchemaError):
            call(bad)


def test_file_store_never_writes_plaintext(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = open_blobs(f"file://{root}")
    digest = store.put(SECRET * 10)
    store.put(b"x" + SECRET)
    store.destroy(store.put(SECRET + b"y"))
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        assert SECRET[:24] not in content, path
        assert b"attack at dawn" not in content, path
    assert store.get(digest) == SECRET * 10


def test_file_store_master_key_and_reopen(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    digest = open_blobs(f"file://{root}").put(SECRET)
    key_file = root / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32
    assert open_blobs(f"file://{root}").get(digest) == SECRET  # same key on reopen


def test_file_store_without_its_master_key_cannot_read(tmp_path: Path) -> None:
    first = open_blobs(f"file://{tmp_path / 'one'}")
    digest = first.put(SECRET)
    second = open_blobs(f"file://{tmp_path / 'two'}")
    _raw_for(second).write(digest, *_raw_for(first).read(digest))
    with pytest.raises(VerificationError):
        second.get(digest)


def test_file_store_destroy_removes_key_file_and_ciphertext(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = open_blobs(f"file://{root}")
    digest = store.put(SECRET)
    h = _hex(digest)
    store.destroy(digest)
    assert not (root / "keys" / h[:2] / f"{h}.key").exists()
    assert not (root / "data" / h[:2] / h).exists()
    assert (root / "keys" / h[:2] / f"{h}.destroyed").exists()
    # The tombstone survives a restart.
    with pytest.raises(NotFound) as info:
        open_blobs(f"file://{root}").get(digest)
    assert info.value.code == "blob_destroyed"


def test_file_store_treats_a_half_written_blob_as_absent(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = open_blobs(f"file://{root}")
    digest = store.put(SECRET)
    h = _hex(digest)
    (root / "keys" / h[:2] / f"{h}.key").unlink()  # as if put crashed before its commit
    assert not store.exists(digest)
    with pytest.raises(NotFound) as info:
        store.get(digest)
    assert info.value.code == "not_found"
    assert store.get(store.put(SECRET)) == SECRET


@pytest.mark.parametrize("url", ["s3://bucket/x", "file://relative/dir", "blobs"])
def test_unknown_or_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_blobs(url)
