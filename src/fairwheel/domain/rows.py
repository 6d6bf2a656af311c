"""Typed rows: what the store port returns for its main aggregates.

They are ``TypedDict`` s, so a row is still a plain mapping (JSON-ready, cheap to build from a
database row) while mypy checks every key a service reads. Money is ``int`` in token base
units whatever the backend stores (SQLite keeps it as decimal text: base units overflow 64 bits).
"""

from __future__ import annotations

from typing import NamedTuple, TypedDict

__all__ = [
    "EarningUse",
    "EpochRow",
    "JobRunRow",
    "LedgerEntry",
    "ModelRow",
    "PoolRow",
    "RecordOwner",
    "RecordRow",
    "SessionRow",
    "StoredResponseRow",
]


class PoolRow(TypedDict):
    """A data pool: the on-chain pool id, its prices and the split of every call."""

    id: int
    name: str
    operator: str
    guardian: str
    search_price: int
    predict_price: int
    operator_fee_bps: int
    builder_share_bps: int
    labeler_share_bps: int
    labels: list[str]
    licence: str
    tx_hash: str
    created_at: float


class RecordRow(TypedDict):
    """A contributed record: its consent, verdict and anchor (its content is a sealed blob)."""

    id: int
    pool_id: int
    record_hash: bytes
    contributor: str
    content_hash: bytes
    dup_key: bytes
    blob_name: str | None
    label: str | None
    status: str
    score: float
    reasons: list[str]
    duplicate_of: int | None
    licence: str
    purposes: int
    expiry: int
    nonce: str
    signature: bytes
    batch_id: int | None
    proof: list[str] | None
    pinned: bool
    created_at: float


class RecordOwner(TypedDict):
    """What splitting a payment needs of a record."""

    contributor: str
    status: str


class LedgerTail(NamedTuple):
    """Where the next ledger entry of a pool attaches: the ledger's last sequence number
    (global, 0 if empty), the pool's last entry hash (genesis if none) and the rounding dust
    it carried out (0 if none)."""

    seq: int
    prev_hash: str
    dust: int


class ServedRecord(TypedDict):
    """What a paid call needs of a candidate record: whether it may be served, what to show,
    who it pays and its feedback weight (1.0 without feedback)."""

    id: int
    contributor: str
    blob_name: str | None
    label: str | None
    status: str
    purposes: int
    expiry: int
    weight: float


class ModelRow(TypedDict):
    """A registered model version of a pool."""

    id: int
    pool_id: int
    chain_id: int
    builder: str
    model_hash: str
    dataset_root: str
    metrics: dict[str, object]
    metrics_hash: str
    artifact: bytes
    tx_hash: str
    version: int
    trigger: str
    report: dict[str, object]
    created_at: float


class LedgerEntry(TypedDict):
    """One hash-chained usage-ledger entry (amounts as decimal strings, as hashed) and its hash."""

    seq: int
    time: int
    pool: int
    consumer: str
    kind: str
    price: str
    voucher_amount: str
    query_hash: str
    operator_fee: str
    builder: str | None
    builder_amount: str
    attribution: list[list[str]]
    dust_in: str
    dust_out: str
    prev_hash: str
    hash: str


class EpochRow(TypedDict):
    """A closed epoch of a pool: its Merkle root, total, dust and published file."""

    pool_id: int
    epoch: int
    root: str
    total: int
    dust: int
    file_path: str
    file_hash: str
    tx_hash: str
    closed_at: float


class EarningUse(TypedDict):
    """One paid call that earned an account something, and the account's records it served."""

    seq: int
    time: int
    pool: int
    kind: str
    amount: int
    records: list[int]


class SessionRow(TypedDict):
    """A signed-in wallet's session (the token itself is never stored, only its SHA-256)."""

    address: str
    is_operator: bool
    expires: float


class StoredResponseRow(TypedDict):
    """The response remembered for an idempotency key."""

    fingerprint: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    expires: float


class JobRunRow(TypedDict):
    """The last run of a background job (``name`` is the job and its pool, e.g. ``anchor:1``)."""

    name: str
    started: float
    finished: float
    status: str
    detail: str
    marker: str
    runs: int
    failures: int
    last_ok: float
