"""``SqlConnection.transaction``'s protocol, on a fake connection that records what it is asked
(the real backends run it in tests/conformance): what is rolled back, and what is not."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from fairwheel.errors import BackendError, FairwheelError
from fairwheel.store._connection import Cursor, SqlConnection


class FakeConnection(SqlConnection):
    """A fake of a driver for this test: logs begin/commit/rollback, fails where told."""

    def __init__(self, fail: str | None = None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.fail = fail
        self.log: list[str] = []

    def _step(self, name: str) -> None:
        self.log.append(name)
        if self.fail == name:
            raise BackendError(f"{name} failed")

    def _begin(self) -> None:
        self._step("begin")

    def _commit(self) -> None:
        self._step("commit")

    def _rollback(self) -> None:
        self._step("rollback")

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        raise NotImplementedError

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _port_error(self, exc: Exception) -> FairwheelError | None:
        return None


def test_a_block_commits_once_and_nested_blocks_join_it() -> None:
    db = FakeConnection()
    with db.transaction(), db.transaction():
        assert db.in_transaction
    assert db.log == ["begin", "commit"] and not db.in_transaction


@pytest.mark.parametrize("fail, log", [
    ("body", ["begin", "rollback"]),
    ("commit", ["begin", "commit", "rollback"]),
    ("begin", ["begin"]),  # nothing began: no rollback hides the begin's own error
])  # fmt: skip
def test_what_a_failure_rolls_back(fail: str, log: list[str]) -> None:
    db = FakeConnection(fail=fail)
    with pytest.raises(BackendError, match=f"{fail} failed"), db.transaction():
        if fail == "body":
            raise BackendError("body failed")
    assert db.log == log and not db.in_transaction
