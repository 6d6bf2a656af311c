"""Paid calls: search and prediction, each carried by an EIP-712 voucher.

A call is checked (voucher signature, pool, cumulative amount, escrow cover),
served, attributed to the records behind the answer by exact KNN-Shapley, split
by the pool's fee policy, and appended to the hash-chained usage ledger — the
ledger entry and the voucher are written in one transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fairwheel.domain.records import RecordStatus, canonical_json
from fairwheel.domain.rows import ServedRecord
from fairwheel.domain.typed_data import PURPOSE_SEARCH, Voucher, verify_voucher
from fairwheel.errors import (
    Conflict,
    InsufficientFunds,
    NotFound,
    ReplayError,
    SchemaError,
    SignatureError,
)
from fairwheel.node.ledger import LEDGER_LOCK, price_in
from fairwheel.node.paid_weights import beneficiary_weights, reweighted, search_values
from fairwheel.node.served_cache import GenerationCache, LruCache
from fairwheel.node.service import Service
from fairwheel.node.training_neighbours import EXACT_LIMIT, LabelGroups, label_groups

#: Served records' texts kept decrypted per process (~150 bytes each: a few MB at most).
TEXT_CACHE_SIZE = 20_000

if TYPE_CHECKING:
    from fairwheel.domain.rows import ModelRow, PoolRow
    from fairwheel.node.feedback import FeedbackService
    from fairwheel.node.ledger import LedgerService
    from fairwheel.node.ports import NodePorts
    from fairwheel.node.versions import VersionService
    from fairwheel.training.classifier import LinearModel


@dataclass(frozen=True)
class Hit:
    """One search result with its provenance."""

    record_id: int
    score: float
    text: str
    label: str | None
    contributor: str


@dataclass(frozen=True)
class PaidResult:
    """What a paid call returns: the answer, its price and where the money went."""

    kind: str
    price: int
    seq: int
    attribution: dict[str, int]
    operator_fee: int
    builder_amount: int
    hits: list[Hit]
    prediction: str | None = None
    confidence: float | None = None
    model_hash: str | None = None
    model_version: int | None = None
    notice: str | None = None
    arena: list[dict[str, Any]] | None = None


class ServingService(Service):
    """Paid search and prediction."""

    def __init__(
        self,
        ports: NodePorts,
        ledger: LedgerService,
        feedback: FeedbackService,
        versions: VersionService,
    ) -> None:
        super().__init__(ports)
        self.ledger = ledger
        self.feedback = feedback
        self.versions = versions
        # Derived, keyed by what the store says they derive from: never stale across workers.
        # The serving version and a challenger or two: a registered version never changes.
        self._models: LruCache[tuple[int, str], LinearModel] = LruCache(4)
        self._model_rows: LruCache[int, ModelRow] = LruCache(4)
        self._training: LruCache[int, LabelGroups] = LruCache(2)  # the serving version's
        self._splits: dict[int, tuple[tuple[int, str], dict[str, float]]] = {}
        # Decrypted texts of served records by blob name. Safe across workers without any
        # invalidation: a blob name is never reused, and a call returns a text only after the
        # record was found servable in the store in that same call, so a revoked record's
        # cached text is never served. Bounded, so what revocation leaves in memory is too.
        self._texts: LruCache[str, str] = LruCache(TEXT_CACHE_SIZE)
        # Candidates' rows and labelers' credit, per pool generation (see served_cache).
        self._served_rows: GenerationCache[ServedRecord] = GenerationCache()
        self._credit: GenerationCache[dict[str, float]] = GenerationCache()
        self._pools: dict[int, PoolRow] = {}  # a pool row never changes once created

    def _pool(self, pool_id: int) -> PoolRow:
        pool = self._pools.get(pool_id)
        if pool is None:
            pool = self._pools[pool_id] = self.store.pool(pool_id)
        return pool

    def _generations(self, pool_id: int) -> tuple[str | None, str | None]:
        """The pool's index and split generations in one read (the index's freshness check
        and the key of the per-call caches); None inside a write transaction (what it reads
        could still roll back)."""
        if self.store.in_transaction:
            return None, None
        return self.store.generations(pool_id)

    def _check_voucher(self, pool_id: int, voucher: Voucher, signature: bytes, price: int) -> int:
        """Check the voucher against the escrow at the chain's head; return the head's time.

        The escrow is read once per head (:class:`fairwheel.chain.escrow_cache.EscrowCache`):
        exact, since its state changes only in a new block.
        """
        verify_voucher(voucher, self.voucher_domain(), signature)
        if voucher.pool_id != pool_id:
            raise SchemaError(f"voucher is for pool {voucher.pool_id}, not pool {pool_id}")
        previous = self.ledger.spent(pool_id, voucher.payer)
        if voucher.cumulative_amount <= previous:
            raise ReplayError(
                f"voucher amount {voucher.cumulative_amount} was already used "
                f"(latest accepted cumulative amount is {previous})"
            )
        if voucher.cumulative_amount != previous + price:
            raise InsufficientFunds(
                f"voucher must raise the cumulative amount by the price {price} to "
                f"{previous + price}, not to {voucher.cumulative_amount}",
                expected=str(previous + price),
            )
        head = self.chain.head()
        escrow = self.escrow_cache.state(head, pool_id, voucher.payer)
        # Money queued for withdrawal is not there to pay with: the thaw only protects
        # vouchers accepted before the withdrawal was requested.
        if not escrow.covers(voucher.cumulative_amount):
            balance = escrow.unredeemed_cover()
            raise InsufficientFunds(
                f"escrow balance {balance} (after {escrow.pending} queued for withdrawal) does "
                f"not cover unredeemed vouchers of {voucher.cumulative_amount - escrow.redeemed}",
                balance=str(balance),
            )
        # The node's loss cap: what it would lose if the payer withdrew everything unredeemed
        # (the escrow backs it, but only until redemption). Past it the node waits for the next
        # redemption (jobs.redeem_threshold closes the epoch early) before serving the payer.
        cap = self.settings.max_unredeemed
        unredeemed = voucher.cumulative_amount - escrow.redeemed
        if cap and unredeemed > cap:
            raise Conflict(
                f"payer {voucher.payer} has {unredeemed - price} unredeemed in pool {pool_id}; "
                f"this node serves at most {cap} before redeeming: retry after the next "
                "redemption (epoch close)",
                reason="unredeemed_cap", cap=str(cap), unredeemed=str(unredeemed - price),
            )  # fmt: skip
        return head.timestamp

    def search(
        self, pool_id: int, query: str, k: int, voucher: Voucher, signature: bytes
    ) -> PaidResult:
        """A paid top-``k`` search over the pool, attributed by the retrieval game."""
        if not 1 <= k <= 100:
            raise SchemaError("k must be between 1 and 100")
        pool = self._pool(pool_id)
        price = price_in(pool, "search")
        now = self._check_voucher(pool_id, voucher, signature, price)
        index_generation, generation = self._generations(pool_id)  # before any row it keys
        vector = self.embedder.embed([query])[0]
        # Candidates beyond the top k take part in the retrieval game: they would be
        # in the answer in coalitions without the nearer records.
        hits = self.index(pool_id, index_generation).search(vector, 2 * k)
        candidates, records = self._servable(pool_id, hits, now, generation)
        ids = [rid for rid, _ in candidates]
        candidates = reweighted(candidates, {rid: records[rid]["weight"] for rid in ids})
        values = search_values(candidates, k)
        credit = self._credit.read(pool_id, generation, ids, self.store.credit)
        weights = beneficiary_weights(values, records, credit, pool["labeler_share_bps"])
        answer = [
            Hit(rid, score, self._text(records[rid]), records[rid]["label"],
                records[rid]["contributor"])
            for rid, score in candidates[:k]
        ]  # fmt: skip
        total = sum(values.values())
        # One unit of work: the ledger entry, the voucher, the served records and the
        # records behind the answer commit together or not at all.
        with self.store.transaction():
            entry = self._charge(pool, voucher, signature, "search", price, query, weights, None,
                                 now=now)  # fmt: skip
            seq = int(entry["seq"])
            self.store.put_call_hits(seq, [h.record_id for h in answer])
            if total > 0:  # the records behind the answer, for feedback
                shares = [(rid, v / total) for rid, v in values.items() if v > 0]
                self.store.put_call_records(seq, shares)
        return PaidResult(
            kind="search",
            price=price,
            seq=seq,
            attribution=dict((a, int(v)) for a, v in entry["attribution"]),
            operator_fee=int(entry["operator_fee"]),
            builder_amount=0,
            hits=answer,
        )

    def predict(
        self, pool_id: int, text: str, voucher: Voucher, signature: bytes, *, arena: bool = False
    ) -> PaidResult:
        """A paid prediction by the pool's serving model version, attributed by its training
        values. With ``arena``, a second version answers too (in random order) and the consumer
        can say which answer was better (:meth:`rate` with kind ``arena``)."""
        pool = self._pool(pool_id)
        price = price_in(pool, "predict")
        model_row = self._serving_model(pool_id)
        challenger = self.feedback.challenger(pool_id) if arena else None
        now = self._check_voucher(pool_id, voucher, signature, price)
        index_generation, generation = self._generations(pool_id)  # before any row it keys
        vector = self.embedder.embed([text])
        model = self._model(model_row)
        proba = model.predict_proba(vector)[0]
        best = int(np.argmax(proba))
        weights = self._predict_weights(pool, model_row, generation)
        behind = self._neighbours(
            pool_id, int(model_row["id"]), vector[0], model.classes[best], now,
            (index_generation, generation),
        )  # fmt: skip
        answers = None
        if challenger is not None:
            other = self._model(challenger)
            mine = {"model_id": int(model_row["id"]), "version": model_row["version"],
                    "answer": model.classes[best]}  # fmt: skip
            theirs = {"model_id": int(challenger["id"]), "version": challenger["version"],
                      "answer": other.predict(vector)[0]}  # fmt: skip
            answers = [mine, theirs] if secrets.randbits(1) else [theirs, mine]
        # An arena prompt is kept for preference exports, sealed like contributed content.
        prompt_blob = self.blobs.put(text.encode()) if answers is not None else None
        try:
            with self.store.transaction():
                entry = self._charge(
                    pool, voucher, signature, "predict", price, text, weights,
                    model_row["builder"], now=now,
                )  # fmt: skip
                seq = int(entry["seq"])
                self.store.put_call_model(seq, int(model_row["id"]))
                self.store.put_call_records(seq, behind)
                if answers is not None and prompt_blob is not None:
                    self.store.put_arena(seq, pool_id, prompt_blob, answers)
        except BaseException:
            if prompt_blob is not None:
                self.blobs.destroy(prompt_blob)
            raise
        return PaidResult(
            kind="predict",
            price=price,
            seq=seq,
            attribution=dict((a, int(v)) for a, v in entry["attribution"]),
            operator_fee=int(entry["operator_fee"]),
            builder_amount=int(entry["builder_amount"]),
            hits=[],
            prediction=model.classes[best],
            confidence=float(proba[best]),
            model_hash=model_row["model_hash"],
            model_version=int(model_row["version"]),
            notice=self.versions.serving_notice(model_row),
            arena=answers,
        )

    def _serving_model(self, pool_id: int) -> ModelRow:
        """``store.serving_model``, with the version's row (its artifact included) read once per
        process: a registered version never changes, only which one serves."""
        stack = self.store.serving_stack(pool_id)
        if not stack:
            raise NotFound(f"pool {pool_id} has no promoted model yet", pool_id=pool_id)
        return self._model_rows.get(stack[-1], lambda: self.store.model(stack[-1]))

    def _model(self, model_row: Mapping[str, Any]) -> LinearModel:
        """The version's model, deserialised once per process (a version never changes)."""
        from fairwheel.training.classifier import LinearModel

        key = (int(model_row["id"]), str(model_row["model_hash"]))
        return self._models.get(key, lambda: LinearModel.from_bytes(model_row["artifact"]))

    def _predict_weights(
        self, pool: Mapping[str, Any], model_row: Mapping[str, Any], generation: str | None
    ) -> dict[str, float]:
        """Who a prediction by this version pays, by weight: its training records' values, for
        records still accepted, times their feedback weights, shared with labelers.

        The same for every call until a record's status, a feedback weight or a labeler's
        credit changes, so it is kept per ``(version, store.split_generation)`` — one row read
        a call instead of four reads over the whole training set.
        """
        pool_id = int(pool["id"])
        if generation is None:
            generation = self.store.split_generation(pool_id)
        key = (int(model_row["id"]), generation)
        cached = self._splits.get(pool_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        values = self.store.model_values(model_row["id"])
        records = self.store.record_owners(list(values))
        # Revoked or demoted records stop earning from the next call on; feedback weights too.
        feedback = self.store.record_weights(list(values))
        earning = {
            rid: v * feedback.get(rid, 1.0)
            for rid, v in values.items()
            if v > 0 and records[rid]["status"] == RecordStatus.ACCEPTED
        }
        weights = beneficiary_weights(
            earning, records, self.store.credit(list(earning)), pool["labeler_share_bps"]
        )
        self._splits[pool_id] = (key, weights)
        return weights

    def receipt(self, seq: int, body: Any) -> dict[str, str]:
        """The node's signed receipt for paid call ``seq`` answered with ``body`` (the parsed
        JSON of the answer): ``{seq, requestHash, responseHash, signer, signature}``
        (:mod:`fairwheel.domain.receipts`)."""
        from fairwheel.domain.receipts import CallReceipt, response_hash, sign_receipt

        entry = self.store.ledger_entry(seq)
        receipt = CallReceipt(seq, bytes.fromhex(entry["query_hash"][2:]), response_hash(body))
        signature = sign_receipt(receipt, self.voucher_domain(), self.operator.key)
        return {
            "seq": str(seq),
            "requestHash": "0x" + receipt.request_hash.hex(),
            "responseHash": "0x" + receipt.response_hash.hex(),
            "signer": self.operator.address,
            "signature": "0x" + signature.hex(),
        }

    def check_receipt(self, seq: int, receipt: Mapping[str, Any]) -> None:
        """Check a receipt a rater presents: the node signed it, for call ``seq``, whose
        request it names.

        Raises:
            SchemaError: The receipt is malformed or names another call.
            SignatureError: The node did not sign it.
        """
        from fairwheel.domain.receipts import CallReceipt, receipt_signer

        try:
            claimed = CallReceipt(
                int(receipt["seq"]),
                bytes.fromhex(str(receipt["requestHash"])[2:]),
                bytes.fromhex(str(receipt["responseHash"])[2:]),
            )
            signature = str(receipt["signature"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"malformed call receipt: {exc}") from exc
        if claimed.seq != seq:
            raise SchemaError(f"the receipt is for call {claimed.seq}, not call {seq}")
        entry = self.store.ledger_entry(seq)
        if "0x" + claimed.request_hash.hex() != entry["query_hash"]:
            raise SignatureError("the receipt names another request than this call's")
        if receipt_signer(claimed, self.voucher_domain(), signature) != self.operator.address:
            raise SignatureError("the call receipt was not signed by this node")

    def _neighbours(
        self,
        pool_id: int,
        model_id: int,
        vector: np.ndarray,
        label: str,
        now: int,
        generations: tuple[str | None, str | None],
    ) -> list[tuple[int, float]]:
        """The records behind a prediction: up to 10 of the version's training records with
        its label nearest the query, that may still be served (node/training_neighbours.py)."""
        groups = self._training.get(model_id, lambda: label_groups(self.store, model_id))
        group = groups.ids.get(label)
        if group is None:
            return []
        if len(group) <= EXACT_LIMIT:
            found = groups.nearest(label, vector, 40)
        else:  # too many to compare here: the pool's nearest that are this group's
            hits = self.index(pool_id, generations[0]).search(vector, 30)
            at = np.searchsorted(group, [rid for rid, _ in hits]).clip(max=len(group) - 1)
            found = [hit for hit, i in zip(hits, at, strict=True) if group[i] == hit[0]]
        kept, records = self._servable(pool_id, found, now, generations[1])
        same = [rid for rid, _ in kept if records[rid]["label"] == label][:10]
        return [(rid, 1.0 / len(same)) for rid in same]

    def servable(
        self, pool_id: int, hits: list[tuple[int, float]], now: int | None = None
    ) -> list[tuple[int, float]]:
        """Drop hits whose record may not be served at ``now`` (chain time; default: the
        latest block's): revoked, demoted, consent expired."""
        return self._servable(pool_id, hits, now, self._generations(pool_id)[1])[0]

    def _servable(
        self,
        pool_id: int,
        hits: list[tuple[int, float]],
        now: int | None,
        generation: str | None,
    ) -> tuple[list[tuple[int, float]], dict[int, ServedRecord]]:
        """:meth:`servable`, with the rows it read (a paid call needs them: read them once),
        from the copy kept for ``generation`` (:meth:`_generations`, read before the hits)."""
        ids = [rid for rid, _ in hits]
        records = self._served_rows.read(pool_id, generation, ids, self.store.served_records)
        now = self.chain.now() if now is None else now
        kept = [
            (rid, score)
            for rid, score in hits
            if rid in records
            and records[rid]["status"] == RecordStatus.ACCEPTED
            and records[rid]["purposes"] & PURPOSE_SEARCH
            and records[rid]["expiry"] > now
        ]
        return kept, records

    def _text(self, record: Mapping[str, Any]) -> str:
        name = str(record["blob_name"])
        try:
            return self._texts.get(name, lambda: bytes(self.blobs.get(name)).decode())
        except NotFound:
            return ""

    def forget_texts(self, names: Iterable[str]) -> None:
        """Drop the cached texts of these blobs (called when this process destroys them)."""
        for name in names:
            self._texts.forget(name)

    def _charge(
        self,
        pool: Mapping[str, Any],
        voucher: Voucher,
        signature: bytes,
        kind: str,
        price: int,
        query: str,
        weights: Mapping[str, float],
        builder: str | None,
        *,
        now: int | None = None,
    ) -> dict[str, Any]:
        """Split the price, append the ledger entry and store the voucher, inside the
        caller's transaction (the paid call's one unit of work)."""
        from eth_utils import keccak

        from fairwheel.valuation import SplitPolicy, split_call

        pool_id = int(pool["id"])
        policy = SplitPolicy(pool["operator_fee_bps"], pool["builder_share_bps"])
        # Serialise with every other ledger writer (another worker, on PostgreSQL) before the
        # re-check, so a concurrent call cannot reuse the voucher or read the same dust.
        self.store.lock(LEDGER_LOCK)
        if voucher.cumulative_amount <= self.ledger.spent(pool_id, voucher.payer):
            raise ReplayError("voucher was used by a concurrent call")
        tail = self.store.ledger_tail(pool_id)  # under the lock: no other call reads this dust
        split = split_call(price, weights, policy, kind=kind, dust_in=tail.dust)
        builder_amount = split.builder if builder else 0
        return self.ledger.append(
            pool_id, voucher, signature, kind=kind, price=price,
            query_hash="0x" + keccak(canonical_json({"kind": kind, "query": query})).hex(),
            operator_fee=split.operator_fee + (split.builder - builder_amount),
            builder=builder, builder_amount=builder_amount,
            attribution=sorted(split.contributors.items()),
            dust_in=split.dust_in, dust_out=split.dust_out, now=now, tail=tail,
        )  # fmt: skip
