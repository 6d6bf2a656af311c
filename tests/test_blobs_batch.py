"""``put_many``: the batch form of ``put`` behaves like repeated ``put``: a new copy per item."""

from __future__ import annotations

import pytest

from fairwheel.blobs import open_blobs


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    return open_blobs(f"file://{tmp_path / 'b'}" if request.param == "file" else "memory://")


def test_put_many_stores_one_copy_per_item_in_order(store) -> None:
    items = [b"alpha", b"beta", b"alpha", b""]
    names = store.put_many(items)
    assert len(set(names)) == len(items)  # equal items are separate copies
    assert [store.get(n) for n in names] == items
    again = store.put_many(items)
    assert not set(again) & set(names) and [store.get(n) for n in again] == items


def test_put_many_after_a_destroy_is_a_new_copy(store) -> None:
    (name,) = store.put_many([b"secret"])
    store.destroy(name)
    assert not store.exists(name)
    (again,) = store.put_many([b"secret"])
    assert again != name and store.get(again) == b"secret" and not store.exists(name)


def test_put_many_refuses_non_bytes(store) -> None:
    with pytest.raises(TypeError):
        store.put_many(["text"])  # type: ignore[list-item]
