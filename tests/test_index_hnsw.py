"""hnsw:// specifics beyond the shared index conformance suite (tests/test_index.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairwheel.index.hnsw import HnswIndex


def test_replacing_a_vector_after_a_search_scores_the_new_one(tmp_path: Path) -> None:
    """The read-back copies of stored vectors follow an update of the same id."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 8)).astype(np.float32)
    index = HnswIndex(tmp_path / "idx", 8)
    index.add(list(range(40)), base)
    query = base[3] / np.linalg.norm(base[3])
    assert index.search(query, 5)[0] == (3, pytest.approx(1.0, abs=1e-6))
    index.add([3], -base[3:4])  # same id, opposite vector
    assert 3 not in [i for i, _ in index.search(query, 5)]
    assert index.search(-query, 1)[0][0] == 3
    index.remove([3])
    assert 3 not in [i for i, _ in index.search(-query, 40)]
