"""The store port's conformance suite: every backend must pass every test here.

A backend is listed in ``BACKENDS`` as a function of a fresh temporary folder that returns a
context giving a store URL (PostgreSQL: a fresh schema, dropped after the test; skipped when
no test database is configured, see ``tests/store_backends.py``).
Each test opens a fresh store through ``open_store`` — the same path the node takes.
"""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import pytest

from fairwheel.domain.rows import (
    EpochRow,
    LedgerEntry,
    ModelRow,
    PoolRow,
    RecordRow,
    ServedRecord,
)
from fairwheel.errors import BackendError, Conflict, NotFound
from fairwheel.settlement.ledger import make_entry, verify_chain
from fairwheel.store import Store, open_store
from tests.store_backends import postgres_schema

BACKENDS: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "sqlite": lambda folder: nullcontext(f"sqlite:///{folder / 'store.db'}"),
    "postgresql": lambda folder: postgres_schema(),  # skipped without FAIRWHEEL_TEST_POSTGRES_URL
}

BIG = 2**70 + 12_345  # token base units overflow 64-bit integers
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b2" * 20


@pytest.fixture(params=sorted(BACKENDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with BACKENDS[request.param](tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def _keys(row_type: type) -> set[str]:
    return set(typing.get_type_hints(row_type))


def _pool(store: Store, pool_id: int = 1, price: int = BIG) -> PoolRow:
    with store.transaction():
        store.insert_pool(
            {"id": pool_id, "name": f"p{pool_id}", "operator": ALICE, "guardian": BOB,
             "search_price": price, "predict_price": price + 1, "operator_fee_bps": 1000,
             "builder_share_bps": 2000, "labeler_share_bps": 500, "labels": ["a", "b"],
             "licence": "CC-BY-4.0", "tx_hash": "0x" + "00" * 32}
        )  # fmt: skip
    return store.pool(pool_id)


def _record(store: Store, pool_id: int, text: str, status: str = "accepted") -> int:
    digest = hashlib.sha256(text.encode()).digest()
    with store.transaction():
        return store.insert_record(
            {"pool_id": pool_id, "record_hash": digest, "contributor": ALICE,
             "content_hash": digest, "dup_key": digest[:8], "blob_name": f"blob:{text}",
             "label": "a", "status": status, "score": 0.9, "reasons": ["ok"], "licence": "CC0",
             "purposes": 3, "expiry": 2**40, "nonce": 7, "signature": b"\x01" * 65}
        )  # fmt: skip


def _append(
    store: Store, pool_id: int, price: int, payer: str = BOB, dust_out: int = 0
) -> LedgerEntry:
    with store.transaction():
        seq, prev, _ = store.ledger_tail(pool_id)
        body, digest = make_entry(
            seq=seq + 1, time=1_700_000_000 + seq, pool=pool_id, consumer=payer, kind="search",
            price=price, voucher_amount=price * (seq + 1), query_hash="0x" + "11" * 32,
            operator_fee=price // 10, builder=None, builder_amount=0,
            attribution=[(ALICE, price - price // 10)], dust_in=0, dust_out=dust_out,
            prev_hash=prev,
        )  # fmt: skip
        import json

        store.append_ledger(seq + 1, pool_id, json.dumps(body), digest)
        store.fold_open(pool_id, body)
    return store.ledger_entry(seq + 1)


# -- units of work -----------------------------------------------------------------------


def test_a_failed_unit_of_work_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.set_meta("k", "v")
        with store.transaction():  # a nested block joins the outer one
            assert store.in_transaction
            store.set_meta("k2", "v2")
        raise RuntimeError("fail after both writes")
    assert (store.get_meta("k"), store.get_meta("k2")) == (None, None)
    assert not store.in_transaction


def test_a_committed_unit_of_work_survives_reopening(store: Store, store_url: str) -> None:
    _pool(store)
    with store.transaction():
        store.set_meta("k", "v1")
        store.set_meta("k", "v2")  # an upsert
    store.close()
    again = open_store(store_url)
    try:
        assert again.get_meta("k") == "v2"
        assert again.pool(1)["search_price"] == BIG
    finally:
        again.close()


# -- pools -------------------------------------------------------------------------------


def test_pool_rows_are_typed_and_money_is_exact(store: Store) -> None:
    row = _pool(store)
    assert set(row) == _keys(PoolRow)
    assert (row["search_price"], row["predict_price"]) == (BIG, BIG + 1)
    assert isinstance(row["search_price"], int) and row["labels"] == ["a", "b"]
    _pool(store, 2, price=5)
    assert [p["id"] for p in store.pools()] == [1, 2]


def test_missing_rows_are_not_found_and_duplicates_conflict(store: Store) -> None:
    with pytest.raises(NotFound):
        store.pool(9)
    with pytest.raises(NotFound):
        store.record(9)
    with pytest.raises(NotFound):
        store.ledger_entry(9)
    with pytest.raises(NotFound):
        store.epoch(1, 1)
    _pool(store)
    with pytest.raises(Conflict):
        _pool(store)
    assert len(store.pools()) == 1


def test_a_bad_statement_is_a_backend_error(store: Store) -> None:
    with pytest.raises(BackendError):
        store.records(1, status=object())  # type: ignore[arg-type]


# -- records -----------------------------------------------------------------------------


def test_record_rows_are_typed_and_an_accepted_hash_is_unique(store: Store) -> None:
    _pool(store)
    rid = _record(store, 1, "hello")
    row = store.record(rid)
    assert set(row) == _keys(RecordRow)
    assert isinstance(row["record_hash"], bytes) and row["reasons"] == ["ok"]
    assert row["pinned"] is False and row["batch_id"] is None and row["proof"] is None
    assert store.records_by_ids([rid, 999]) == {rid: row}
    assert store.record_owners([rid]) == {rid: {"contributor": ALICE, "status": "accepted"}}
    with pytest.raises(Conflict):  # the same content accepted twice
        _record(store, 1, "hello")
    rejected = _record(store, 1, "hello", status="rejected")  # kept as evidence: allowed
    assert [r["id"] for r in store.records(1, "accepted")] == [rid]
    assert [r["id"] for r in store.records(1)] == [rid, rejected]


def test_a_paid_calls_candidates_come_with_their_feedback_weights(store: Store) -> None:
    _pool(store)
    plain, weighted = _record(store, 1, "plain"), _record(store, 1, "weighted")
    with store.transaction():
        store.set_record_weights([(weighted, 0.25, 1.0, 3.0)])
    served = store.served_records([weighted, plain, 999])
    assert sorted(served) == [plain, weighted]  # an unknown id is left out
    assert set(served[plain]) == _keys(ServedRecord)
    row: dict[str, object] = dict(store.record(plain))
    assert {k: v for k, v in served[plain].items() if k != "weight"} == {
        k: row[k] for k in _keys(ServedRecord) - {"weight"}
    }
    assert served[plain]["weight"] == 1.0 and served[weighted]["weight"] == 0.25
    assert store.served_records([]) == {}


def test_nonces_are_spent_once(store: Store) -> None:
    with store.transaction():
        store.use_nonce(ALICE, 7)
    assert store.nonce_used(ALICE, 7) and not store.nonce_used(ALICE, 8)
    with pytest.raises(Conflict), store.transaction():
        store.use_nonce(ALICE, 7)


def test_a_write_that_fails_behind_later_statements_rolls_back_all_with_a_conflict(
    store: Store,
) -> None:
    """On PostgreSQL a transaction's statements are pipelined: a broken constraint surfaces
    at the next read or the commit. It is still the port's Conflict, and nothing is kept."""
    with store.transaction():
        store.use_nonce(ALICE, 1)
    with pytest.raises(Conflict), store.transaction():
        store.use_nonce(BOB, 2)
        store.use_nonce(ALICE, 1)  # the duplicate
        store.use_nonce(BOB, 3)
        store.nonce_used(BOB, 2)  # a read after it
    with pytest.raises(Conflict), store.transaction():
        store.use_nonce(BOB, 4)
        store.use_nonce(ALICE, 1)  # nothing read after it: surfaces at the commit
    assert not any(store.nonce_used(BOB, n) for n in (2, 3, 4))
    with store.transaction():  # the connection works on
        store.use_nonce(BOB, 5)
    assert store.nonce_used(BOB, 5)


def test_embeddings_round_trip_as_float32(store: Store) -> None:
    _pool(store)
    rid = _record(store, 1, "vec")
    vector = np.linspace(-1, 1, 8, dtype=np.float32)
    with store.transaction():
        store.put_embedding(rid, "fake", vector)
    ids, matrix = store.embeddings(1)
    assert ids == [rid] and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], vector)
    np.testing.assert_array_equal(store.vectors_of([rid])[rid], vector)


# -- vouchers and the ledger --------------------------------------------------------------


def test_the_latest_voucher_wins_and_every_voucher_is_kept(store: Store) -> None:
    _pool(store)
    with store.transaction():
        store.put_voucher(1, BOB.upper().replace("0X", "0x"), BIG, b"\x01")
        store.put_voucher(1, BOB, BIG + 5, b"\x02")
    assert store.voucher(1, BOB) == (BIG + 5, b"\x02")
    assert store.voucher(1, ALICE) is None
    assert store.best_voucher(1, BOB, 0, BIG + 4) == (BIG, b"\x01")
    assert store.best_voucher(1, BOB, BIG + 5, 2 * BIG) is None


def test_ledger_sequence_is_global_and_each_pool_chains_by_hash(store: Store) -> None:
    _pool(store, 1)
    _pool(store, 2)
    first = _append(store, 1, BIG)
    other = _append(store, 2, 10)
    second = _append(store, 1, BIG)
    assert [first["seq"], other["seq"], second["seq"]] == [1, 2, 3]
    assert set(first) == _keys(LedgerEntry)
    assert second["prev_hash"] == first["hash"]
    assert other["prev_hash"] == "0x" + "00" * 32  # pool 2's own chain
    assert verify_chain(store.ledger(1)) == second["hash"]
    assert [e["seq"] for e in store.ledger()] == [1, 2, 3]
    assert store.ledger_tail(2) == (3, other["hash"], 0)
    assert store.ledger_tail(9) == (3, "0x" + "00" * 32, 0)  # a pool without entries


def test_the_ledger_tail_carries_the_pool_s_last_dust(store: Store) -> None:
    _pool(store, 1)
    _pool(store, 2)
    _append(store, 1, 100, dust_out=BIG)
    last = _append(store, 2, 10, dust_out=7)
    assert store.ledger_tail(1) == (2, store.ledger(1)[-1]["hash"], BIG)
    assert store.ledger_tail(2) == (2, last["hash"], 7)
    assert store.ledger_tail(1).dust == store.pool_dust(1)


def test_the_open_fold_adds_beyond_64_bits(store: Store) -> None:
    _pool(store)
    _append(store, 1, BIG)
    _append(store, 1, BIG)
    fold = store.open_fold(1)
    assert fold is not None
    assert int(fold["paid"]) == 2 * BIG and int(fold["entries"]) == 2
    assert fold["earnings"] == {ALICE: 2 * (BIG - BIG // 10)}
    assert [e["seq"] for e in store.open_ledger(1)] == [1, 2]
    with store.transaction():
        store.seal_open_epoch(1, 1, 1)
    assert [e["seq"] for e in store.open_ledger(1)] == [2]
    # Entry 2 came after the close read the ledger: the fold now holds it alone.
    fold = store.open_fold(1)
    assert fold is not None and (int(fold["first_seq"]), int(fold["entries"])) == (2, 1)
    assert int(fold["paid"]) == BIG and fold["earnings"] == {ALICE: BIG - BIG // 10}
    with store.transaction():
        store.seal_open_epoch(1, 2, 2)
    assert store.open_fold(1) is None and store.open_ledger(1) == []


def test_epoch_rows_are_typed_with_integer_money(store: Store) -> None:
    _pool(store)
    assert store.last_epoch(1) is None
    with store.transaction():
        store.insert_epoch(
            {"pool_id": 1, "epoch": 1, "root": "0x" + "22" * 32, "total": BIG, "dust": 3,
             "file_path": "/e1.jsonl", "file_hash": "0x" + "33" * 32, "tx_hash": "0x" + "44" * 32},
            {ALICE: BIG},
        )  # fmt: skip
    row = store.epoch(1, 1)
    assert set(row) == _keys(EpochRow) and (row["total"], row["dust"]) == (BIG, 3)
    assert store.last_epoch(1) == row
    assert store.earnings(1, 1) == {ALICE: BIG}


# -- what paid calls served ---------------------------------------------------------------


def test_served_records_keep_their_rank_and_unknown_calls_served_none(store: Store) -> None:
    with store.transaction():
        store.put_call_hits(5, [30, 10, 20])
        store.put_call_records(5, [(10, 0.25), (30, 0.75)])
    assert store.call_hits([5, 6]) == {5: [30, 10, 20], 6: []}
    assert store.call_records([5]) == {5: [(10, 0.25), (30, 0.75)]}


def test_many_served_rows_in_one_call_and_a_record_named_twice_keeps_its_last_share(
    store: Store,
) -> None:
    ids = list(range(1, 1201))  # more rows than one multi-row statement carries
    with store.transaction():
        store.put_call_hits(7, ids[::-1])
        store.put_call_records(7, [(1, 0.5), (2, 0.5), (1, 0.25)])
        store.put_call_records(8, [(i, 1 / len(ids)) for i in ids])
    assert store.call_hits([7]) == {7: ids[::-1]}
    assert store.call_records([7]) == {7: [(1, 0.25), (2, 0.5)]}
    assert [r for r, _ in store.call_records([8])[8]] == ids


def test_model_rows_are_typed(store: Store) -> None:
    _pool(store)
    with store.transaction():
        model_id = store.insert_model(
            {"pool_id": 1, "chain_id": 1, "builder": BOB, "model_hash": "0x" + "55" * 32,
             "dataset_root": "0x" + "66" * 32, "metrics": '{"accuracy": 0.9}',
             "metrics_hash": "0x" + "77" * 32, "artifact": b"npz", "tx_hash": "0x" + "88" * 32,
             "version": 1, "trigger": "manual", "report": {}},
            {},
        )  # fmt: skip
    row = store.model(model_id)
    assert set(row) == _keys(ModelRow) and row["metrics"] == {"accuracy": 0.9}
    assert store.latest_model(1) == row and store.models(1) == [row]
    with pytest.raises(NotFound):
        store.serving_model(1)  # registered, not promoted


def test_the_port_names_every_public_method_of_each_backend() -> None:
    """A method added to a backend but not to the protocol would be untyped for the services
    (and missing from the next backend): the two lists must match."""
    from fairwheel.store import SqliteStore
    from fairwheel.store.postgres import PostgresStore

    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    assert public(SqliteStore) == public(Store)
    assert public(PostgresStore) == public(Store)


def test_generations_change_with_servable_records_and_the_split(store: Store) -> None:
    """One row read tells a paid call whether its index and its revenue split are current."""
    _pool(store, 1)
    _pool(store, 2)
    seen = {store.index_generation(1)}
    split = {store.split_generation(1)}
    rid = _record(store, 1, "first")  # an accepted record: servable set changed
    seen.add(store.index_generation(1))
    _record(store, 1, "quarantined one", status="quarantined")  # nothing servable changed
    assert store.index_generation(1) in seen and len(seen) == 2
    store.set_verdict(rid, "accepted", 0.8, ["rescored"])  # same status: nothing to rebuild
    assert store.index_generation(1) in seen and len(seen) == 2
    store.set_verdict(rid, "quarantined", 0.0, ["label_issue"])
    seen.add(store.index_generation(1))
    store.set_status(rid, "revoked", ["revoked"])
    seen.add(store.index_generation(1))
    assert len(seen) == 4
    split.add(store.split_generation(1))
    other = store.split_generation(2)
    store.set_record_weights([(rid, 0.5, 1.0, 2.0)])
    split.add(store.split_generation(1))
    store.put_credit(rid, {"0x" + "ab" * 20: 1.0})
    split.add(store.split_generation(1))
    assert len(split) == 4
    assert store.split_generation(2) == other == "s0:f0"  # another pool's marks stay
    assert store.generations(1) == (store.index_generation(1), store.split_generation(1))
