"""The store's shared API state (``AccessStore``) and its lock, on every backend.

Sessions, nonces and idempotency records are what lets several workers serve one node: each test
opens two connections to one database, as two workers would, and checks that one sees what the
other wrote. Runs on SQLite and on PostgreSQL (skipped without a test database).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from fairwheel.domain.rows import SessionRow, StoredResponseRow
from fairwheel.store import Store, open_store
from tests.store_backends import postgres_schema

NOW = 1_800_000_000.0


@pytest.fixture(params=["postgresql", "sqlite"])
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two connections to one fresh database (two workers of one node)."""
    context: AbstractContextManager[str] = (
        postgres_schema()
        if request.param == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'store.db'}")
    )
    with context as url:
        first = open_store(url)
        second = open_store(url)
        yield first, second
        second.close()
        first.close()


def test_a_nonce_is_spent_once_whichever_worker_sees_it(two: tuple[Store, Store]) -> None:
    a, b = two
    a.put_nonce("n1", NOW + 600, NOW)
    a.put_nonce("old", NOW + 1, NOW)
    assert b.nonce_count(NOW) == 2
    assert b.take_nonce("n1", NOW) is True
    assert a.take_nonce("n1", NOW) is False  # spent on the other worker
    assert a.take_nonce("never-issued", NOW) is False
    assert b.take_nonce("old", NOW + 2) is False  # expired: gone, and not accepted
    a.put_nonce("n2", NOW + 900, NOW + 700)  # issuing forgets expired nonces
    assert b.nonce_count(NOW + 700) == 1


def test_a_session_is_live_on_every_worker_until_it_ends(two: tuple[Store, Store]) -> None:
    a, b = two
    alice = SessionRow(address="0x" + "a1" * 20, is_operator=False, expires=NOW + 100)
    a.put_session("digest-a", alice, NOW, capacity=10)
    assert b.session("digest-a", NOW) == alice
    assert b.session("digest-a", NOW + 100) is None  # expired
    assert b.session("unknown", NOW) is None
    assert b.drop_session("digest-a") is True and a.session("digest-a", NOW) is None
    assert a.drop_session("digest-a") is False


def test_sessions_beyond_capacity_drop_the_oldest(two: tuple[Store, Store]) -> None:
    a, b = two
    for i in range(5):
        row = SessionRow(address=f"0x{i:040x}", is_operator=i == 0, expires=NOW + 1000)
        a.put_session(f"d{i}", row, NOW + i, capacity=3)
    assert b.session_count(NOW + 10) == 3
    assert [b.session(f"d{i}", NOW + 10) is not None for i in range(5)] == [False] * 2 + [True] * 3


def _response(body: bytes, expires: float = NOW + 3600) -> StoredResponseRow:
    return StoredResponseRow(
        fingerprint="fp",
        status=201,
        headers=[(b"content-type", b"application/json"), (b"x-\xff", b"\x00\x01")],
        body=body,
        expires=expires,
    )


def test_an_idempotency_slot_is_claimed_once_across_workers(two: tuple[Store, Store]) -> None:
    a, b = two
    assert a.claim_slot("alice:key1", NOW) is None  # claimed by worker a
    assert b.claim_slot("alice:key1", NOW) == "in-progress"
    a.finish_slot("alice:key1", _response(b'{"ok":1}'), NOW, capacity=100, max_bytes=2**20)
    assert b.claim_slot("alice:key1", NOW) == _response(b'{"ok":1}')
    assert a.claim_slot("alice:key2", NOW) is None
    a.release_slot("alice:key2")  # the request had no effect: the key is free again
    assert b.claim_slot("alice:key2", NOW) is None


def test_an_expired_response_frees_its_slot_and_budgets_drop_the_oldest(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    assert a.claim_slot("s0", NOW) is None
    a.finish_slot("s0", _response(b"x", expires=NOW + 1), NOW, capacity=100, max_bytes=100)
    assert b.claim_slot("s0", NOW + 2) is None  # expired: claimable anew
    b.release_slot("s0")
    for i in range(1, 5):
        assert a.claim_slot(f"s{i}", NOW + i) is None
        a.finish_slot(f"s{i}", _response(b"y" * 40), NOW + i, capacity=100, max_bytes=100)
    # 4 bodies of 40 bytes against a budget of 100: only the two newest are kept.
    assert [isinstance(b.claim_slot(f"s{i}", NOW + 5), dict) for i in (3, 4)] == [True, True]
    assert b.claim_slot("s1", NOW + 5) is None and b.slot_count() == 3


def test_lock_serialises_writers_on_one_database(two: tuple[Store, Store]) -> None:
    """Worker b asks for the lock worker a holds: b's transaction waits until a commits."""
    a, b = two
    order: list[str] = []
    a_holds = threading.Event()

    def worker_b() -> None:
        a_holds.wait(5)
        with b.transaction():
            b.lock("fairwheel:ledger")
            order.append("b locked")

    thread = threading.Thread(target=worker_b)
    thread.start()
    with a.transaction():
        a.lock("fairwheel:ledger")
        a_holds.set()
        time.sleep(0.3)  # b is blocked here (on SQLite by BEGIN IMMEDIATE itself)
        order.append("a commits")
    thread.join(10)
    assert order == ["a commits", "b locked"]


def test_lock_outside_a_transaction_is_a_programming_error(two: tuple[Store, Store]) -> None:
    with pytest.raises(RuntimeError, match="inside a transaction"):
        two[0].lock("x")


def test_a_job_lease_has_one_holder_across_workers(two: tuple[Store, Store]) -> None:
    a, b = two
    assert a.acquire_lease("close:1", "a", NOW, 60)
    assert not b.acquire_lease("close:1", "b", NOW + 1, 60)  # a's lease is live
    assert b.lease_holder("close:1", NOW + 1) == "a"
    assert a.acquire_lease("close:1", "a", NOW + 30, 60)  # the holder renews it
    assert not b.acquire_lease("close:1", "b", NOW + 61, 60)  # renewed until NOW + 90
    assert b.acquire_lease("close:1", "b", NOW + 90, 60)  # expired: b takes the job over
    a.release_lease("close:1", "a")  # not a's any more: nothing happens
    assert a.lease_holder("close:1", NOW + 91) == "b"
    b.release_lease("close:1", "b")
    assert a.lease_holder("close:1", NOW + 91) is None


def test_job_runs_count_failures_and_keep_the_last_good_marker(two: tuple[Store, Store]) -> None:
    a, b = two
    a.record_job_run("rescore:1", NOW, NOW + 2, "ran", "rescored", "120")
    a.record_job_run("rescore:1", NOW + 10, NOW + 11, "failed", "backend_error: down", "999")
    run = b.job_run("rescore:1")
    assert run is not None
    assert (run["runs"], run["failures"], run["status"], run["marker"]) == (2, 1, "failed", "120")
    assert run["last_ok"] == NOW + 2 and run["detail"] == "backend_error: down"
    assert [r["name"] for r in b.job_runs()] == ["rescore:1"] and b.job_run("nope") is None
