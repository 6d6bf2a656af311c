"""Contribution: the proof-of-contribution gate on every submission, rescoring and review.

Per pool the node keeps a :class:`PoolGate` in memory — the near-duplicate finder, contributor
reputations and the pool's quality snapshot. It is derived from the store (rebuilt on first use
in a process) and dropped whenever a write fails, so memory never runs ahead of the database.
The checks themselves are the pure functions of :mod:`fairwheel.quality`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fairwheel.domain.records import (
    GateDecision,
    RecordStatus,
    RejectReason,
    Submission,
    duplicate_key,
    record_id,
)
from fairwheel.domain.rows import RecordRow
from fairwheel.domain.typed_data import PURPOSE_SEARCH
from fairwheel.errors import Conflict, SchemaError
from fairwheel.node.gate_context import StoreGateContext
from fairwheel.node.ports import ServableChange
from fairwheel.node.service import Service
from fairwheel.quality import gate
from fairwheel.quality.near_duplicate import NearDuplicateFinder
from fairwheel.quality.review import (
    ContributorReputation,
    PoolQuality,
    PoolRecord,
    ReputationPolicy,
    build_pool_quality,
    needs_refresh,
    rescore_pool,
    suspect_of,
)

if TYPE_CHECKING:
    from fairwheel.node.feedback import FeedbackService
    from fairwheel.node.ports import NodePorts

# Rejections that say nothing about the claimed contributor: anyone can forge them.
_CONSENT_FAILURES = frozenset(
    r.value
    for r in (
        RejectReason.BAD_SIGNATURE,
        RejectReason.CONSENT_EXPIRED,
        RejectReason.CONSENT_REPLAYED,
        RejectReason.CONSENT_MISMATCH,
    )
)
_KEPT = (RecordStatus.ACCEPTED.value, RecordStatus.QUARANTINED.value)


@dataclass(frozen=True)
class SubmitResult:
    """The gate's verdict for one submission.

    Attributes:
        record_id: The stored record (accepted or quarantined); None if rejected.
        status: ``accepted``, ``quarantined`` or ``rejected``.
        score: In [0, 1] for an accepted record; 0.0 otherwise.
        reasons: Machine-readable reasons, the deciding one first.
        duplicate_of: The record that owns this content, for a copy.
    """

    record_id: int | None
    status: str
    score: float
    reasons: tuple[str, ...]
    duplicate_of: int | None = None


@dataclass(frozen=True)
class StatusChange:
    """A record whose status rescoring or review changed."""

    record_id: int
    before: str
    after: str
    reasons: tuple[str, ...]


@dataclass
class PoolGate:
    """The gate's in-memory state for one pool (derived from the store).

    Attributes:
        policy: The pool's thresholds.
        finder: Near-duplicate finder over accepted (live) and quarantined (removed) records.
        reputation: Per-contributor counts, rate limits, flags and slash evidence.
        quality: The snapshot new records are judged against (None while the pool is empty).
        built_at: Accepted records when ``quality`` was built.
        accepted: Accepted records now.
    """

    policy: gate.GatePolicy
    finder: NearDuplicateFinder
    reputation: ContributorReputation
    quality: PoolQuality | None
    built_at: int
    accepted: int


class ContributionService(Service):
    """Submission, the gate's state, rescoring and review."""

    def __init__(self, ports: NodePorts, feedback: FeedbackService) -> None:
        super().__init__(ports)
        self.feedback = feedback
        # Per pool, the gate's in-memory state: derived from the store, dropped on any failure.
        self.gates: dict[int, PoolGate] = {}

    # -- the gate's state -----------------------------------------------------------------
    def gate_policy(self, pool_id: int) -> gate.GatePolicy:
        """The pool's gate thresholds (settings plus the pool's label set)."""
        pool = self.store.pool(pool_id)
        return gate.GatePolicy(
            max_bytes=self.settings.max_record_bytes,
            min_chars=self.settings.min_record_chars,
            labels=frozenset(pool["labels"]),
        )

    def pool_gate(self, pool_id: int) -> PoolGate:
        """The pool's gate state, rebuilt from the store on first use in this process."""
        state = self.gates.get(pool_id)
        if state is None:
            state = self._build_gate(pool_id)
            self.gates[pool_id] = state
        return state

    def _build_gate(self, pool_id: int) -> PoolGate:
        policy = self.gate_policy(pool_id)
        reputation = ContributorReputation(
            ReputationPolicy(
                max_per_window=self.settings.rate_limit_per_hour,
                limited_per_window=self.settings.flagged_rate_limit_per_hour,
            )
        )
        records = self.store.records(pool_id)
        for rec in records:
            first = rec["reasons"][0].split(" ")[0] if rec["reasons"] else ""
            if rec["status"] == RecordStatus.REVOKED.value or first in _CONSENT_FAILURES:
                continue
            decision = GateDecision(
                RecordStatus(rec["status"]), rec["score"], tuple(rec["reasons"])
            )
            suspect = suspect_of(rec["reasons"]) is not None
            reputation.replay(rec["contributor"], decision, rec["id"], int(rec["created_at"]),
                              suspect)  # fmt: skip
        # Embedding neighbours come from the pool's index (ctx.vector_neighbours), so the
        # finder keeps no vectors of its own.
        finder = NearDuplicateFinder(policy.near_duplicate)
        kept, texts, vectors = self._kept_records(pool_id)
        for row, text, vector in zip(kept, texts, vectors, strict=True):
            finder.add(row["id"], text, vector, row["contributor"])
            if row["status"] != RecordStatus.ACCEPTED.value:
                finder.remove(row["id"])
        live = [i for i, rec in enumerate(kept) if rec["status"] == RecordStatus.ACCEPTED.value]
        quality = None
        if live:
            quality = build_pool_quality(
                [texts[i] for i in live],
                [kept[i]["label"] for i in live],
                vectors[live],
                policy,
                owners=[kept[i]["contributor"] for i in live],
            )
        return PoolGate(policy, finder, reputation, quality, len(live), len(live))

    def _kept_records(self, pool_id: int) -> tuple[list[RecordRow], list[str], np.ndarray]:
        """Accepted and quarantined records in first-ownership order, decrypted, with vectors."""
        ids, vectors = self.store.embeddings(pool_id, _KEPT)
        records = self.store.records_by_ids(ids)
        kept = [records[rid] for rid in ids]
        texts = [bytes(self.blobs.get(str(rec["blob_name"]))).decode() for rec in kept]
        return kept, texts, vectors

    # -- submission -----------------------------------------------------------------------
    def submit(self, pool_id: int, submissions: Sequence[Submission]) -> list[SubmitResult]:
        """Run each submission through the gate; store, encrypt, embed and index the accepted.

        Quarantined records are stored, encrypted and embedded but neither indexed nor paid; a
        rejected one keeps only hashes, its consent and the reason, never its text. Each kept
        record's content is sealed as its own blob copy (own name and key), so revoking it never
        touches the same text in another pool. Submissions are judged in order, so within a
        batch the first copy owns the content. All writes happen in one transaction; after the
        batch the pool is rescored if a contributor was newly flagged, or, unless the rescore
        job does it (``jobs.inline_rescore`` off), if it grew by a quarter since the last
        rescore (``review.needs_refresh``: amortised linear over the pool's life).
        """
        state = self.pool_gate(pool_id)
        flagged = state.reputation.flagged()
        index = self.index(pool_id)  # current now: updated in place below, not rebuilt
        try:
            results, searchable, change = self._judge_batch(pool_id, state, submissions)
        except BaseException:
            self.gates.pop(pool_id, None)  # memory may have run ahead of the rolled-back store
            raise
        if searchable:
            index.add([r for r, _ in searchable], np.stack([v for _, v in searchable]))
        # The index now mirrors the store (unless another worker changed the pool meanwhile:
        # then it stays stale and is rebuilt on its next use). Saved on close, not per batch:
        # a crash leaves a stale generation on disk, and the next open rebuilds it.
        change.settle(index)
        # A newly flagged contributor's earlier records lose the benefit of the doubt now.
        newly_flagged = state.reputation.flagged() - flagged
        grown = self.settings.jobs.inline_rescore and needs_refresh(state.built_at, state.accepted)
        if newly_flagged or grown:
            self.rescore(pool_id)
        return results

    def _judge_batch(
        self, pool_id: int, state: PoolGate, submissions: Sequence[Submission]
    ) -> tuple[list[SubmitResult], list[tuple[int, np.ndarray]], ServableChange]:
        policy = state.policy
        ctx = StoreGateContext(self.store, pool_id, self.index(pool_id))
        chain_now = self.chain.now()
        wall_now = int(time.time())  # rate limits run on the node's clock, like created_at
        domain = self.consent_domain()
        candidates = [i for i, s in enumerate(submissions) if gate.check_schema(s, policy) is None]
        vectors = self.embedder.embed([submissions[i].text for i in candidates])
        vector_of = dict(zip(candidates, vectors, strict=True))
        ctx.prefetch_neighbours(list(vectors))
        to_encrypt: list[tuple[int, bytes]] = []
        sealed: list[str] = []
        results: list[SubmitResult] = []
        searchable: list[tuple[int, np.ndarray]] = []
        try:
            with self.ports.servable_change(pool_id) as change:
                for i, sub in enumerate(submissions):
                    contributor = sub.consent.contributor
                    decision = gate.check_consent(sub, pool_id, domain, chain_now, ctx)
                    judged, match = False, None
                    # A valid consent's nonce is spent whatever the later verdict. A consent
                    # that fails (forged, or moved to other content) spends nothing, so an
                    # intercepted signature cannot be used to burn the contributor's nonce.
                    if decision is None:
                        self.store.use_nonce(contributor, sub.consent.nonce)
                        decision = state.reputation.check(contributor, wall_now)
                        judged = decision is None
                    if decision is None:
                        decision = gate.check_schema(sub, policy)
                    if decision is None:
                        decision = gate.check_exact_duplicate(sub, ctx)
                    novelty = 1.0
                    if decision is None:
                        decision, novelty = gate.check_near_duplicate(
                            sub, vector_of[i], policy, ctx
                        )
                    if decision is None:
                        match = state.finder.find(
                            sub.text, owner=contributor,
                            neighbours=ctx.vector_neighbours(vector_of[i]),
                        )  # fmt: skip
                        verdict = gate.judge_content(
                            sub, vector_of[i], policy, match, novelty, state.quality,
                            contributor_flagged=state.reputation.is_flagged(contributor),
                            knn=ctx.knn_other(vector_of[i], contributor, policy.junk.knn_k),
                        )  # fmt: skip
                        decision = verdict.decision
                    kept = decision.status in (RecordStatus.ACCEPTED, RecordStatus.QUARANTINED)
                    rid = self._store_record(pool_id, sub, decision)
                    if judged:
                        state.reputation.observe(
                            contributor, decision, rid, wall_now, suspect=match is not None
                        )
                    if kept:
                        to_encrypt.append((rid, sub.text.encode()))
                        self.store.put_embedding(rid, self.embedder.model_id, vector_of[i])
                        state.finder.add(rid, sub.text, vector_of[i], contributor)
                    if decision.status == RecordStatus.ACCEPTED:
                        state.accepted += 1
                        ctx.pending.append((rid, contributor, vector_of[i]))
                        if sub.consent.purposes & PURPOSE_SEARCH:
                            searchable.append((rid, vector_of[i]))
                    elif kept:
                        state.finder.remove(rid)
                    results.append(SubmitResult(rid if kept else None, decision.status.value,
                                                decision.score, decision.reasons,
                                                decision.duplicate_of))  # fmt: skip
                # Each kept record's content is sealed as its own copy (own name and key), in
                # one durability barrier, before the records that point to it are committed.
                if to_encrypt:
                    sealed = self.blobs.put_many([data for _, data in to_encrypt])
                    pairs = zip((rid for rid, _ in to_encrypt), sealed, strict=True)
                    self.store.set_blob_names(list(pairs))
        except BaseException:
            for name in sealed:  # rolled back: shred the copies rather than orphan them
                with contextlib.suppress(Exception):
                    self.blobs.destroy(name)
            raise
        return results, searchable, change

    def _store_record(self, pool_id: int, sub: Submission, decision: GateDecision) -> int:
        """Insert the verdict: hashes, label, consent and reasons; never the text itself."""
        consent = sub.consent
        return self.store.insert_record(
            {
                "pool_id": pool_id,
                "record_hash": record_id(pool_id, consent.contributor, sub.text, sub.label),
                "contributor": consent.contributor.lower(),
                "content_hash": consent.content_hash,
                "dup_key": duplicate_key(sub.text),
                "label": sub.label,
                "status": decision.status.value,
                "score": decision.score,
                "reasons": decision.reasons,
                "duplicate_of": decision.duplicate_of,
                "licence": consent.licence,
                "purposes": consent.purposes,
                "expiry": consent.expiry,
                "nonce": consent.nonce,
                "signature": sub.signature,
            }
        )

    # -- rescoring and review -------------------------------------------------------------
    def rescore(self, pool_id: int) -> list[StatusChange]:
        """Judge every accepted and quarantined record again against the grown pool.

        Scores and reasons are refreshed; a record accepted early can be quarantined as
        evidence accumulates (it leaves the index and earns nothing from the next call), and a
        quarantined one released. Records pinned by review keep their status.

        Returns:
            The records whose status changed.
        """
        state = self.pool_gate(pool_id)
        changes: list[StatusChange] = []
        # Quarantines can flag a contributor, whose doubtful records are then judged without
        # the benefit of the doubt: pass again while the set of flagged contributors grows.
        for _ in range(3):
            flagged = state.reputation.flagged()
            changes += self._rescore_once(pool_id, state)
            if state.reputation.flagged() <= flagged:
                break
        return changes

    def _rescore_once(self, pool_id: int, state: PoolGate) -> list[StatusChange]:
        kept, texts, vectors = self._kept_records(pool_id)
        records = [
            PoolRecord(
                rec["id"], text, rec["label"], rec["contributor"], RecordStatus(rec["status"]),
                _as_id(suspect_of(rec["reasons"])), rec["pinned"],
            )
            for rec, text in zip(kept, texts, strict=True)
        ]  # fmt: skip
        result = rescore_pool(records, vectors, state.policy, state.reputation)
        verdicts = [(v, r) for v, r in zip(result.verdicts, records, strict=True) if not r.pinned]
        try:
            with self.ports.servable_change(pool_id) as servable:
                for v, _ in verdicts:
                    self.store.set_verdict(int(v.key), v.status.value, v.score, v.reasons)  # type: ignore[call-overload]
        except BaseException:
            self.gates.pop(pool_id, None)
            raise
        changes = [
            StatusChange(int(v.key), r.status.value, v.status.value, v.reasons)  # type: ignore[call-overload]
            for v, r in verdicts
            if v.status != r.status
        ]
        self.apply_changes(pool_id, changes, servable)
        state.quality = result.pool
        state.built_at = state.accepted = result.pool.size
        return changes

    def review_queue(self, pool_id: int) -> list[dict[str, Any]]:
        """Records awaiting a reviewer, oldest first: quarantined ones, and accepted ones that
        feedback keeps finding behind bad answers (reason ``feedback_review``), each with its
        ``preview`` decrypted now (the database holds no text)."""
        queue = self.store.records(pool_id, RecordStatus.QUARANTINED.value)
        queue += self.feedback.feedback_suspects(pool_id)
        queue.sort(key=lambda r: int(r["id"]))
        return [{**r, "preview": self.record_preview(r)} for r in queue]

    def review(self, record_id_: int, *, release: bool, note: str = "") -> StatusChange:
        """A reviewer's decision on a quarantined or accepted record; rescoring then keeps it.

        Args:
            record_id_: The record.
            release: True accepts it (indexed and paid from the next call); False quarantines it.
            note: Why, stored with the reasons.

        Raises:
            Conflict: the record is rejected or revoked.
        """
        rec = self.store.record(record_id_)
        if rec["status"] not in _KEPT:
            raise Conflict(f"record {record_id_} is {rec['status']}: only accepted or quarantined "
                           "records can be reviewed")  # fmt: skip
        if len(note) > 500:
            raise SchemaError("review note is over 500 characters")
        after = RecordStatus.ACCEPTED if release else RecordStatus.QUARANTINED
        head = f"review {'released' if release else 'quarantined'}" + (f": {note}" if note else "")
        reasons = (head, *rec["reasons"])
        score = rec["score"] if release and rec["status"] == after.value else 0.0
        if release and rec["status"] != after.value:
            score = gate.quality_score(1.0, self.record_text(record_id_), 0.0, 0.0)
        with self.ports.servable_change(int(rec["pool_id"])) as servable:
            self.store.set_verdict(record_id_, after.value, score, reasons, pinned=True)
        change = StatusChange(record_id_, rec["status"], after.value, reasons)
        if change.before != change.after:
            self.apply_changes(rec["pool_id"], [change], servable)
        return change

    def reputation(self, pool_id: int, contributor: str) -> dict[str, Any]:
        """A contributor's standing in the pool: counts, shares, flag, and slash evidence."""
        rep = self.pool_gate(pool_id).reputation
        total, bad, suspect = rep.shares(contributor)
        return {
            "contributor": contributor.lower(),
            "submissions": total,
            "bad_share": round(bad, 4),
            "suspect_share": round(suspect, 4),
            "flagged": rep.is_flagged(contributor),
            "evidence": [e.__dict__ for e in rep.evidence(contributor)],
        }

    def slash_report(self, pool_id: int) -> dict[str, dict[str, object]]:
        """Flagged contributors of the pool with their evidence, for a slash proposal."""
        return self.pool_gate(pool_id).reputation.slash_report()

    def apply_changes(
        self,
        pool_id: int,
        changes: Sequence[StatusChange],
        servable: ServableChange | None = None,
    ) -> None:
        """Bring the index, finder and reputations in line with stored status changes.

        ``servable`` is the transaction that stored them (:meth:`NodePorts.servable_change`):
        with it the index updated in place is marked current; without, it stays stale and is
        rebuilt on its next use.
        """
        if not changes:
            return
        state = self.gates.get(pool_id)
        # The open index is updated in place (index() would rebuild it: the generation moved).
        loaded = self.ports.loaded_index(pool_id)
        index = loaded if loaded is not None else self.index(pool_id)
        back = [c.record_id for c in changes if c.after == RecordStatus.ACCEPTED.value]
        gone = [c.record_id for c in changes if c.after != RecordStatus.ACCEPTED.value]
        if gone:
            index.remove(gone)
        records = self.store.records_by_ids([c.record_id for c in changes])
        if back:
            vectors = self.store.vectors_of(back)
            add = [r for r in back if records[r]["purposes"] & PURPOSE_SEARCH and r in vectors]
            if add:
                index.add(add, np.stack([vectors[r] for r in add]))
        if servable is not None:
            servable.settle(index)
        if state is None:
            return
        now = int(time.time())
        for change in changes:
            if change.after == RecordStatus.ACCEPTED.value:
                state.finder.restore(change.record_id)
            else:
                state.finder.remove(change.record_id)
            contributor = records[change.record_id]["contributor"]
            state.reputation.revise(
                contributor, RecordStatus(change.before), RecordStatus(change.after),
                change.record_id, now, change.reasons[0] if change.reasons else "",
            )  # fmt: skip
            state.accepted += 1 if change.after == RecordStatus.ACCEPTED.value else -1


def _as_id(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
