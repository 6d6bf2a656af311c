"""Typed rows from result rows: the one place stored columns become the domain's row types."""

from __future__ import annotations

import json
from typing import cast

from fairwheel.domain.rows import EpochRow, LedgerEntry, ModelRow, RecordRow
from fairwheel.store._connection import Row

__all__ = ["epoch_row", "ledger_entry", "model_row", "record_row"]


def model_row(row: Row) -> ModelRow:
    out = dict(row)
    out["metrics"] = json.loads(out["metrics"])
    out["report"] = json.loads(out["report"])
    return cast(ModelRow, out)


def record_row(row: Row) -> RecordRow:
    out = dict(row)
    out["reasons"] = json.loads(out["reasons"])
    out["proof"] = json.loads(out["proof"]) if out["proof"] else None
    out["record_hash"] = bytes(out["record_hash"])
    out["content_hash"] = bytes(out["content_hash"])
    out["pinned"] = bool(out["pinned"])
    return cast(RecordRow, out)


def ledger_entry(row: Row) -> LedgerEntry:
    return cast(LedgerEntry, {**json.loads(row["body"]), "hash": row["hash"]})


def epoch_row(row: Row) -> EpochRow:
    out = dict(row)
    out["total"] = int(out["total"])
    out["dust"] = int(out["dust"])
    return cast(EpochRow, out)
