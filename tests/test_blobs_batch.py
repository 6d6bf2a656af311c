"""``put_many``: the batch form of ``put`` behaves exactly like repeated ``put``."""

from __future__ import annotations

import pytest

from fairwheel.blobs import open_blobs


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    return open_blobs(f"file://{tmp_path / 'b'}" if request.param == "file" else "memory://")


def test_put_many_matches_put_and_is_idempotent(store) -> None:
    items = [b"alpha", b"beta", b"alpha", b""]
    digests = store.put_many(items)
    assert digests == [store.put(x) for x in items]
    assert [store.get(d) for d in digests] == items
    assert store.put_many(items) == digests


def test_put_many_restores_a_destroyed_blob_under_a_new_key(store) -> None:
    (digest,) = store.put_many([b"secret"])
    store.destroy(digest)
    assert not store.exists(digest)
    assert store.put_many([b"secret"]) == [digest]
    assert store.get(digest) == b"secret"


def test_put_many_refuses_non_bytes(store) -> None:
    with pytest.raises(TypeError):
        store.put_many(["text"])  # type: ignore[list-item]
