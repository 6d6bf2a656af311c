"""Read models for the edges: what the API, dashboard, CLI and simulator show, asked of the
node rather than of its ports.

The edges never touch the store: they read pools, records, the ledger, epochs, models and
feedback here (what the chain says comes from :mod:`fairwheel.node.onchain`), so a read
replica or a cache can serve these later without an edge changing. Rows are the typed rows of
:mod:`fairwheel.domain.rows`; an unknown id raises ``NotFound``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairwheel.errors import FairwheelError
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fairwheel.domain.rows import (
        EpochRow,
        JobRunRow,
        LedgerEntry,
        ModelRow,
        PoolRow,
        RecordRow,
    )

__all__ = [
    "ComponentHealth",
    "ConsumerCall",
    "NodeHealth",
    "QueryService",
    "RecordUse",
    "RecordsPage",
    "reason_code",
]


@dataclass(frozen=True)
class ComponentHealth:
    """One part of the node: whether it answers, and what it said."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class NodeHealth:
    """The node's parts (``chain``, ``database``, ``index``), each checked by a real call."""

    checks: dict[str, ComponentHealth]
    chain_id: int
    block: int | None = None
    pools: int | None = None
    embedded_chain: bool = False

    @property
    def ok(self) -> bool:
        """Whether every part answered."""
        return all(check.ok for check in self.checks.values())


@dataclass(frozen=True)
class ConsumerCall:
    """One paid call as its consumer sees it: the ledger entry, what it served, their rating.

    The node keeps no query text and no answer text: ``query_hash`` (keccak-256 of the
    canonical ``{kind, query}``) stands for the query, ``records`` for the answer (a search's
    hits in rank order; a prediction's nearest records behind its label). Money in base units.
    """

    seq: int
    time: int
    pool: int
    kind: str
    price: int
    voucher_amount: int
    operator_fee: int
    builder_amount: int
    contributors_amount: int
    query_hash: str
    hash: str
    records: tuple[int, ...]
    rating_kind: str | None
    rating: int | None


@dataclass(frozen=True)
class RecordUse:
    """One paid call that served a record, as its contributor sees it.

    Attributes:
        seq: The call.
        time: Chain time of the call.
        kind: ``search`` (the record was a hit, at ``rank`` from 0) or ``predict`` (it was
            among the records behind the answer).
        consumer: Who paid.
        rank: Position among the hits (searches), else None.
        share: The record's share of the answer's value (KNN-Shapley), 0.0 when none.
        paid_contributor: What the call paid the record's contributor in all (all their
            records in that answer together), in base units.
        record_amount: For a search, the part of ``paid_contributor`` that falls to this
            record: split by ``share`` over the contributor's records with a share (exact when
            it is the only one; rounded down otherwise). None for a prediction: its pay follows
            the model's training values of all the contributor's records, not one record.
    """

    seq: int
    time: int
    kind: str
    consumer: str
    rank: int | None
    share: float
    paid_contributor: int
    record_amount: int | None


@dataclass(frozen=True)
class RecordsPage:
    """One page of a contributor's records, after a search and filters.

    Attributes:
        rows: The records on this page, newest first.
        total: Records matching the search and filters.
        page: This page (from 1).
        pages: How many pages the matches fill (at least 1).
        statuses: The contributor's records per status (before filtering).
        reasons: Per reason code (see :func:`reason_code`), the contributor's records.
    """

    rows: list[RecordRow]
    total: int
    page: int
    pages: int
    statuses: dict[str, int]
    reasons: dict[str, int]


def reason_code(status: str, reasons: Sequence[str]) -> str | None:
    """The machine-readable code of what decided a record: the first word of its first reason
    for a rejected or quarantined record (``unknown_label``, ``near_duplicate``, ``junk`` …),
    ``review`` after a reviewer's decision, else None (an accepted record's reasons describe
    its score; a revoked one was accepted)."""
    if not reasons:
        return None
    first = str(reasons[0]).split(" ", 1)[0].rstrip(":")
    if first == "review":
        return "review"
    if status not in ("rejected", "quarantined"):
        return None
    return "label_issue" if first == "label_issue_score" else first


def _matches(row: RecordRow, needle: str) -> bool:
    """Whether ``needle`` (lower case) is the record's id (``12`` or ``#12``: an id only, never
    digits inside a reason), or is found in its status, label or reasons."""
    if needle.lstrip("#").isdigit():
        return int(needle.lstrip("#")) == int(row["id"])
    hay = " ".join([row["status"], row["label"] or "", *row["reasons"]]).lower()
    return needle in hay


# Health is public: an RPC URL can carry a provider's API key, so URLs never leave in a detail.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def _failure(exc: Exception) -> ComponentHealth:
    text = (
        f"{exc.code}: {exc.message}"
        if isinstance(exc, FairwheelError)
        else (f"{type(exc).__name__}: {exc}")
    )
    return ComponentHealth(False, _URL.sub("<url>", text)[:300])


class QueryService(Service):
    """Read-only views of the node for its edges."""

    # -- pools and records -------------------------------------------------------
    def pool(self, pool_id: int) -> PoolRow:
        """One pool. Raises ``NotFound`` for an unknown id (the edges' 404)."""
        return self.store.pool(pool_id)

    def pools(self) -> list[PoolRow]:
        """Every pool, oldest first."""
        return self.store.pools()

    def record(self, record_id: int) -> RecordRow:
        """One record. Raises ``NotFound`` for an unknown id."""
        return self.store.record(record_id)

    def records(self, pool_id: int, status: str | None = None) -> list[RecordRow]:
        """The pool's records, optionally of one status."""
        return self.store.records(pool_id, status)

    def records_by_ids(self, ids: Sequence[int]) -> dict[int, RecordRow]:
        """The records with these ids (unknown ids are left out)."""
        return self.store.records_by_ids(ids)

    def records_of(
        self, contributor: str, pool_id: int | None = None, status: str | None = None
    ) -> list[RecordRow]:
        """A contributor's records, in one pool or all, optionally of one status."""
        pools = [pool_id] if pool_id is not None else [int(p["id"]) for p in self.store.pools()]
        who = contributor.lower()
        return [
            r for pid in pools for r in self.store.records(pid, status) if r["contributor"] == who
        ]

    def records_page(
        self,
        contributor: str,
        *,
        pool_id: int | None = None,
        status: str | None = None,
        reason: str | None = None,
        text: str = "",
        page: int = 1,
        per_page: int = 50,
    ) -> RecordsPage:
        """A page of a contributor's records (newest first) matching a search and filters.

        Args:
            contributor: Whose records (nobody else's are ever read here).
            pool_id: One pool, or all.
            status: Only records of this status.
            reason: Only records whose :func:`reason_code` is this.
            text: A record id (``12`` or ``#12``), or other text found in its status, label
                or reasons (case-insensitive). The content itself is not searched: it is
                encrypted, and decrypting every record for a search would cost a blob read each.
            page: The page, from 1; past the last page gives the last page.
            per_page: Records per page.
        """
        mine = self.records_of(contributor, pool_id)
        statuses: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in mine:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            code = reason_code(r["status"], r["reasons"])
            if code is not None:
                reasons[code] = reasons.get(code, 0) + 1
        needle = text.strip().lower()
        found = [
            r for r in mine
            if (status is None or r["status"] == status)
            and (reason is None or reason_code(r["status"], r["reasons"]) == reason)
            and (not needle or _matches(r, needle))
        ]  # fmt: skip
        found.sort(key=lambda r: -int(r["id"]))
        pages = max(1, -(-len(found) // per_page))
        page = min(max(1, page), pages)
        rows = found[(page - 1) * per_page : page * per_page]
        return RecordsPage(rows, len(found), page, pages, statuses, reasons)

    def status_counts(self, pool_id: int) -> dict[str, int]:
        """How many of the pool's records are in each status."""
        return self.store.status_counts(pool_id)

    def unanchored(self, pool_id: int) -> list[RecordRow]:
        """Accepted records not yet in an anchored batch."""
        return self.store.unanchored(pool_id)

    def pending_anchors(self, pool_id: int) -> int:
        """How many accepted records wait for the pool's next anchored batch."""
        return len(self.store.unanchored(pool_id))

    def revocation(self, record_id: int) -> dict[str, Any] | None:
        """A revoked record's steps (revoked, unserved, key destroyed, models marked)."""
        return self.store.revocation(record_id)

    # -- the ledger and epochs ---------------------------------------------------
    def ledger(
        self, pool_id: int | None = None, *, after: int = 0, consumer: str | None = None
    ) -> list[LedgerEntry]:
        """Paid calls in sequence order: of one pool or all, after a seq, of one consumer."""
        entries = self.store.ledger(pool_id)
        who = None if consumer is None else consumer.lower()
        return [
            e for e in entries
            if int(e["seq"]) > after and (who is None or e["consumer"] == who)
        ]  # fmt: skip

    def ledger_entry(self, seq: int) -> LedgerEntry:
        """One paid call. Raises ``NotFound`` for an unknown seq."""
        return self.store.ledger_entry(seq)

    def consumer_calls(self, consumer: str, pool_id: int | None = None) -> list[ConsumerCall]:
        """A consumer's paid calls, oldest first, with the records each served and the rating
        the consumer gave it (None if none)."""
        entries = self.ledger(pool_id, consumer=consumer)
        seqs = [int(e["seq"]) for e in entries]
        hits = self.store.call_hits(seqs)
        behind = self.store.call_records(seqs)
        who = consumer.lower()
        given: dict[int, dict[str, Any]] = {}
        for pid in sorted({int(e["pool"]) for e in entries}):
            for f in self.store.feedback(pid):
                if f["rater"] == who:
                    given[int(f["seq"])] = f
        out = []
        for e in entries:
            seq = int(e["seq"])
            served = hits[seq] if e["kind"] == "search" else [r for r, _ in behind[seq]]
            rating = given.get(seq)
            out.append(
                ConsumerCall(
                    seq=seq, time=int(e["time"]), pool=int(e["pool"]), kind=e["kind"],
                    price=int(e["price"]), voucher_amount=int(e["voucher_amount"]),
                    operator_fee=int(e["operator_fee"]), builder_amount=int(e["builder_amount"]),
                    contributors_amount=sum(int(v) for _, v in e["attribution"]),
                    query_hash=e["query_hash"], hash=e["hash"], records=tuple(served),
                    rating_kind=None if rating is None else str(rating["kind"]),
                    rating=None if rating is None else int(rating["value"]),
                )
            )  # fmt: skip
        return out

    def record_uses(self, record_id: int) -> list[RecordUse]:
        """Every paid call that used a record, oldest first: searches that returned it or
        gave it a share of the answer's value, and predictions it stood behind, with what
        each paid its contributor (``NotFound`` for an unknown record)."""
        record = self.store.record(record_id)
        owner = record["contributor"]
        entries = [e for e in self.store.ledger(int(record["pool_id"]))
                   if e["kind"] in ("search", "predict")]  # fmt: skip
        seqs = [int(e["seq"]) for e in entries]
        hits = self.store.call_hits(seqs)
        behind = {s: dict(v) for s, v in self.store.call_records(seqs).items()}
        used = [
            e
            for e in entries
            if record_id in hits[int(e["seq"])] or record_id in behind[int(e["seq"])]
        ]
        related = sorted({r for e in used for r in behind[int(e["seq"])]})
        owners = self.store.record_owners(related)
        out = []
        for entry in used:
            seq = int(entry["seq"])
            paid = sum(int(v) for a, v in entry["attribution"] if a == owner)
            shares = behind[seq]
            share = float(shares.get(record_id, 0.0))
            amount: int | None = None
            if entry["kind"] == "search":
                mine = [r for r, v in shares.items() if v > 0 and r in owners
                        and owners[r]["contributor"] == owner]  # fmt: skip
                total = sum(shares[r] for r in mine)
                amount = 0 if share <= 0 or total <= 0 else int(paid * share / total)
                if mine == [record_id]:
                    amount = paid
            rank = hits[seq].index(record_id) if record_id in hits[seq] else None
            out.append(RecordUse(seq, int(entry["time"]), entry["kind"], entry["consumer"],
                                 rank, share, paid, amount))  # fmt: skip
        return out

    def open_ledger(self, pool_id: int) -> list[LedgerEntry]:
        """The pool's paid calls not yet in a closed epoch."""
        return self.store.open_ledger(pool_id)

    def open_fold(self, pool_id: int) -> dict[str, Any] | None:
        """The running totals of the pool's open epoch (None before its first call)."""
        return self.store.open_fold(pool_id)

    def latest_vouchers(self, pool_id: int) -> dict[str, int]:
        """Each payer's latest accepted voucher in the pool: its cumulative amount (what the
        node can redeem; what is redeemed already is on-chain, ``node.onchain.redeemed``)."""
        return {payer: cumulative for payer, cumulative, _sig in self.store.vouchers(pool_id)}

    def epoch(self, pool_id: int, epoch: int) -> EpochRow:
        """One closed epoch. Raises ``NotFound`` if it was never closed."""
        return self.store.epoch(pool_id, epoch)

    def last_epoch(self, pool_id: int) -> EpochRow | None:
        """The pool's latest closed epoch, if any."""
        return self.store.last_epoch(pool_id)

    def epoch_count(self, pool_id: int) -> int:
        """How many epochs the pool has closed."""
        last = self.store.last_epoch(pool_id)
        return 0 if last is None else int(last["epoch"])

    def earnings(self, pool_id: int, epoch: int) -> dict[str, int]:
        """Cumulative earnings per account as of a closed epoch (what its Merkle root holds)."""
        return self.store.earnings(pool_id, epoch)

    # -- models and feedback -------------------------------------------------------
    def models(self, pool_id: int) -> list[ModelRow]:
        """The pool's model versions, oldest first."""
        return self.store.models(pool_id)

    def serving_model(self, pool_id: int) -> ModelRow:
        """The version the pool serves. Raises ``NotFound`` before the first training."""
        return self.store.serving_model(pool_id)

    def models_with_record(self, record_id: int) -> list[int]:
        """The model ids trained on a record."""
        return self.store.models_with_record(record_id)

    def feedback(self, pool_id: int) -> list[dict[str, Any]]:
        """The pool's ratings, oldest first."""
        return self.store.feedback(pool_id)

    def feedback_of(self, seq: int, rater: str) -> dict[str, Any] | None:
        """The rating ``rater`` gave paid call ``seq``, if any."""
        return self.store.feedback_of(seq, rater)

    def feedback_budget(self, pool_id: int) -> tuple[int, int]:
        """``(per epoch, dust carried)`` of the pool's rater budget, in token base units."""
        return self.store.feedback_budget(pool_id)

    def job_runs(self) -> list[JobRunRow]:
        """The last run of every background job that has run (``anchor:1``, ``close:1`` …),
        as ``serve --jobs`` records them."""
        return self.store.job_runs()

    def health(self) -> NodeHealth:
        """Check the chain (latest block), the database (pools) and the loaded indexes
        (generation against the database). Never raises: a failing part is reported."""
        block: int | None = None
        try:
            block = int(self.chain.block_number())
            chain = ComponentHealth(True, f"block {block} on chain {self.chain.chain_id}")
        except Exception as exc:
            chain = _failure(exc)
        pools: list[int] | None = None
        try:
            pools = [int(p["id"]) for p in self.store.pools()]
            database = ComponentHealth(True, f"{len(pools)} pools")
        except Exception as exc:
            database = _failure(exc)
        index = self._index_health(pools or [])
        return NodeHealth(
            checks={"chain": chain, "database": database, "index": index},
            chain_id=self.chain.chain_id, block=block, pools=None if pools is None else len(pools),
            embedded_chain=self.chain.is_embedded,
        )  # fmt: skip

    def _index_health(self, pools: list[int]) -> ComponentHealth:
        stale = []
        try:
            for pool_id in pools:
                index = self.ports.loaded_index(pool_id)
                if index is not None and index.generation != self.store.index_generation(pool_id):
                    stale.append(pool_id)
        except Exception as exc:
            return _failure(exc)
        if stale:  # not a failure: the next call to the pool rebuilds it from the database
            return ComponentHealth(True, f"stale for pools {stale}: rebuilt on their next call")
        return ComponentHealth(True, "in step with the database")
