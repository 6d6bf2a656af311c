"""The records behind a prediction: the serving version's training records with the predicted
label, nearest the query (``fairwheel.node.training_neighbours``). Embedded chain, real
contracts, the named fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

import fairwheel.node.serving as serving
from fairwheel.node.training_neighbours import LabelGroups
from tests.test_node_loop import _pool, _predict


def test_nearest_is_the_exact_top_k_of_the_label_with_ties_to_the_lower_id() -> None:
    vectors = np.array([[1, 0], [0.6, 0.8], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    groups = LabelGroups(ids={"a": np.array([3, 5, 4, 9, 11])}, vectors={"a": vectors})
    query = np.array([0.8, 0.6], dtype=np.float32)
    got = groups.nearest("a", query, 3)
    assert [rid for rid, _ in got] == [4, 5, 3]  # 5 and 4 tie at 0.96: the lower id first
    assert got[0][1] == pytest.approx(0.96) and got[2][1] == pytest.approx(0.8)
    assert [rid for rid, _ in groups.nearest("a", query, 10)] == [4, 5, 3, 9, 11]
    assert groups.nearest("b", query, 3) == []
    rng = np.random.default_rng(0)
    for _ in range(50):  # against a full sort
        n, k = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        ids = np.sort(rng.choice(1000, size=n, replace=False))
        rows = rng.normal(size=(n, 8))
        rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)  # unit
        q = rng.normal(size=8)
        q = (q / np.linalg.norm(q)).astype(np.float32)
        scores = rows @ q
        want = sorted(range(n), key=lambda i: (-scores[i], ids[i]))[:k]
        got_ids = [rid for rid, _ in LabelGroups({"x": ids}, {"x": rows}).nearest("x", q, k)]
        assert got_ids == [int(ids[i]) for i in want]


def _behind(node, seq: int) -> list[int]:
    return [rid for rid, _ in node.store.call_records([seq])[seq]]


@pytest.mark.parametrize("exact_limit", [4096, 0], ids=["brute-force", "through-the-index"])
def test_a_prediction_is_backed_by_the_versions_own_training_records(
    node_factory, monkeypatch, exact_limit: int
) -> None:
    monkeypatch.setattr(serving, "EXACT_LIMIT", exact_limit)
    node, pid, _, _, consumer, builder = _pool(node_factory)
    version = node.train(pid, builder.address)
    trained = set(node.store.model_records_of(int(version["id"])))
    query = "my card was stolen yesterday"
    first = _predict(node, pid, consumer, query)
    behind = _behind(node, first.seq)
    assert behind and set(behind) <= trained
    rows = node.store.served_records(behind)
    assert {rows[rid]["label"] for rid in behind} == {first.prediction}
    if exact_limit:  # exactly the nearest of that label among the training records
        labelled = [rid for rid in sorted(trained)
                    if node.store.served_records([rid])[rid]["label"] == first.prediction]
        vectors = node.store.vectors_of(labelled)
        q = node.embedder.embed([query])[0]
        want = sorted(labelled, key=lambda rid: (-float(vectors[rid] @ q), rid))[:10]
        assert sorted(behind) == sorted(want)
    # A record sent after training, the query itself with the predicted label, had no part in
    # the answer: it is the pool's nearest record, yet never behind the prediction.
    from fairwheel.wallet import ContributorWallet

    late = ContributorWallet(node.chain.new_account(), node.consent_domain())
    out = node.submit(pid, [late.submission(pid, query, first.prediction, now=node.chain.now())])
    assert out[0].status == "accepted"
    again = _predict(node, pid, consumer, query)
    assert again.prediction == first.prediction
    nearest = node.index(pid).search(node.embedder.embed([query])[0], 1)
    assert nearest[0][0] == out[0].record_id
    assert out[0].record_id not in _behind(node, again.seq)
