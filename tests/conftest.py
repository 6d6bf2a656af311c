"""Shared fixtures. Each node test gets a fresh home and a fresh in-process chain."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# FAIRWHEEL_* variables that steer the tests themselves, or only locate caches, survive the
# autouse fixture below; every other one (a node's settings, keys, a config file) is cleared.
TEST_CONTROLS = ("FAIRWHEEL_SLOW", "FAIRWHEEL_TEST_", "FAIRWHEEL_STATE_", "FAIRWHEEL_ANVIL",
                 "FAIRWHEEL_CACHE_DIR")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_node_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's ``FAIRWHEEL_DATABASE_URL`` (or any node setting) must not reach a test:
    it would point the test's node outside its temporary home."""
    for name in list(os.environ):
        if name.startswith("FAIRWHEEL_") and not name.startswith(TEST_CONTROLS):
            monkeypatch.delenv(name)


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator:
    """Open nodes on the embedded chain; ``embedder`` defaults to the named fake for speed."""
    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from tests.store_backends import node_database

    opened: list[Node] = []

    with contextlib.ExitStack() as databases:

        def make(embedder_url: str = "fake-hash://384", **overrides: object) -> Node:
            home = tmp_path / f"node{len(opened)}"
            database = databases.enter_context(node_database())
            settings = load_settings(
                home=home,
                chain_url="embedded://",
                embedder_url=embedder_url,
                **{**database, **overrides},
            )
            node = Node.open(settings)
            opened.append(node)
            return node

        yield make
        for node in opened:
            node.close()


@pytest.fixture
def seeded(node_factory: Any) -> tuple[Any, int, list[Any]]:
    """A pool (from :func:`node_factory`) with 60 records from three contributors; 20 more
    examples kept back."""
    from fairwheel.sim.data import synthetic_support_queries
    from tests.contributor_support import new_contributor

    node = node_factory()
    examples = synthetic_support_queries(80, seed=3)
    pool = node.create_pool("p", search_price=10, predict_price=20, operator_fee_bps=1000,
                            builder_share_bps=2000,
                            labels=sorted({e.label for e in examples}))  # fmt: skip
    pid = int(pool["id"])
    seeders = [new_contributor(node) for _ in range(3)]
    now = node.onchain.now()
    done = node.submit(pid, [seeders[i % 3].submission(pid, e.text, e.label, now=now)
                             for i, e in enumerate(examples[:60])])  # fmt: skip
    assert {r.status for r in done} == {"accepted"}
    return node, pid, examples
