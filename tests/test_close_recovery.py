"""An epoch close interrupted after its root was posted is finished, not recomputed.

The crash suite found it (``tests/test_crash_safety.py`` on PostgreSQL): a node killed between
posting an epoch's root and recording the close, then serving more paid calls, recomputed the
epoch over the grown ledger and found "epoch N is on-chain with another root" — stuck for good.
Now what the close will record is committed before the root is posted, and a later close
finishes it; the calls that came after stay open for the next epoch.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fairwheel.errors import BackendError
from fairwheel.node import Node
from tests.test_jobs import PRICE, _consumer, _pay, _pool


def test_a_close_killed_after_posting_is_finished_with_the_posted_root(
    node_factory: Callable[..., Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory()
    pid, _, _ = _pool(node)
    node.jobs.run_pass()
    consumer = _consumer(node, pid)
    _pay(node, pid, consumer, 3)
    insert_epoch = node.store.insert_epoch

    def crash(*args: object, **kwargs: object) -> None:
        raise BackendError("killed before the close was recorded")

    monkeypatch.setattr(node.store, "insert_epoch", crash)
    with pytest.raises(BackendError):
        node.close_epoch(pid)
    posted = node.onchain.epoch_root(pid, 1)  # the root is on-chain, the database has no epoch
    assert node.store.last_epoch(pid) is None and node.store.pending_close(pid) is not None
    monkeypatch.setattr(node.store, "insert_epoch", insert_epoch)
    _pay(node, pid, consumer, 2)  # the node restarts and serves on
    report = node.close_epoch(pid)
    assert (report.epoch, report.entries, report.tx_hash) == (1, 3, "already-posted")
    assert report.root == "0x" + bytes(posted.root).hex() and node.verify_epoch(pid, 1).ok
    assert node.store.pending_close(pid) is None
    assert [int(e["seq"]) for e in node.store.open_ledger(pid)] == [4, 5]
    second = node.close_epoch(pid)
    assert (second.epoch, second.entries) == (2, 2) and node.verify_epoch(pid, 2).ok
    assert node.onchain.redeemed(pid, consumer.address) == 5 * PRICE


def test_a_close_killed_before_posting_is_posted_by_the_next_close(
    node_factory: Callable[..., Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_factory()
    pid, _, _ = _pool(node)
    node.jobs.run_pass()
    consumer = _consumer(node, pid)
    _pay(node, pid, consumer, 2)
    settlement = node.settlement
    post_root = settlement._post_root

    def crash(*args: object) -> str:
        raise BackendError("killed before posting")

    monkeypatch.setattr(settlement, "_post_root", crash)
    with pytest.raises(BackendError):
        node.close_epoch(pid)
    assert bytes(node.onchain.epoch_root(pid, 1).root) == b"\0" * 32  # nothing on-chain yet
    assert node.store.pending_close(pid) is not None
    monkeypatch.setattr(settlement, "_post_root", post_root)
    _pay(node, pid, consumer, 1)
    report = node.close_epoch(pid)
    assert (report.epoch, report.entries) == (1, 2) and node.verify_epoch(pid, 1).ok
    assert [int(e["seq"]) for e in node.store.open_ledger(pid)] == [3]
