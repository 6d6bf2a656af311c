"""Paid feedback: ratings and arena votes on paid answers, record weights, rater pay, exports.

* :meth:`FeedbackMixin.rate` — the consumer who paid for a call (or a staked rater) rates it:
  thumbs or stars re-weight the records behind the answer (their weight in retrieval ranking
  and revenue share; records repeatedly behind bad answers go to the review queue); an arena
  vote says which of two model versions answered better.
* :meth:`FeedbackMixin.pay_raters` — at epoch close, the pool's feedback budget is split over
  raters by their agreement with consensus and with the operator's gold calls; spammy raters
  earn nothing and are rate-limited. Paid through the ledger, like every other payment.
* :meth:`FeedbackMixin.export_preferences` and :meth:`FeedbackMixin.export_training` — JSONL
  preference pairs and the consented training set as Parquet, both with provenance.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import RecordStatus, canonical_json
from fairwheel.domain.rows import ModelRow, RecordRow
from fairwheel.errors import Conflict, InsufficientFunds, NotFound, RateLimited, SchemaError
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.feedback import Rating
    from fairwheel.node.ledger import LedgerService
    from fairwheel.node.ports import NodePorts

REVIEW_TAG = "feedback_review"


class FeedbackService(Service):
    """Ratings, arena, record weights, rater pay and exports."""

    def __init__(self, ports: NodePorts, ledger: LedgerService) -> None:
        super().__init__(ports)
        self.ledger = ledger

    # -- ratings --------------------------------------------------------------------------
    def rate(self, seq: int, rater: str, kind: str, value: int) -> dict[str, Any]:
        """Rate a paid answer. Retrying the same rating is harmless (idempotent).

        Args:
            seq: The paid call (ledger sequence number).
            rater: The consumer who paid for it, or a rater with stake in the Staking contract.
            kind: ``thumbs`` (-1/+1), ``stars`` (1–5) or ``arena`` (0: first answer better,
                1: second), the last only for a call served with ``arena=True``.
            value: The rating.

        Raises:
            SchemaError: a bad kind or value. NotFound: no such call. Conflict: a different
                rating of the same call by the same rater, an arena vote on a plain call, or a
                rater who neither paid nor staked. RateLimited: too many ratings this hour.
        """
        from fairwheel.feedback import Rating, validate_rating

        validate_rating(kind, value)
        entry = self.store.ledger_entry(seq)
        if entry["kind"] not in ("search", "predict"):
            raise Conflict(f"call {seq} is a {entry['kind']} payment, not an answer to rate")
        pool_id, rater = int(entry["pool"]), rater.lower()
        arena = self.store.arena(seq)
        if (kind == "arena") != (arena is not None):
            raise Conflict(f"call {seq} " + ("got two answers: vote with kind arena" if arena
                           else "got one answer: rate it with thumbs or stars"))  # fmt: skip
        previous = self.store.feedback_of(seq, rater)
        if previous is not None:
            if (previous["kind"], previous["value"]) == (kind, value):
                return {"seq": seq, "rater": rater, "kind": kind, "value": value, "new": False}
            raise Conflict(f"{rater} already rated call {seq} ({previous['kind']} "
                           f"{previous['value']})")  # fmt: skip
        if rater != str(entry["consumer"]).lower() and not self._staked(pool_id, rater):
            raise Conflict("only the consumer who paid for a call, or a staked rater, may rate it")
        now = time.time()
        standing = self._rater_standing(pool_id).get(rater, {"weight": 1.0, "spammy": False})
        limit = (self.settings.spammy_ratings_per_hour if standing["spammy"]
                 else self.settings.ratings_per_hour)  # fmt: skip
        if self.store.rater_feedback_since(rater, now - 3600) >= limit:
            raise RateLimited(f"{rater} may send {limit} ratings per hour", limit=limit)
        with self.store.transaction():
            self.store.add_feedback(pool_id, seq, rater, kind, value, now)
            moved = 0
            if kind != "arena":
                rating = Rating(seq, rater, kind, value, int(now))
                moved = self._reweight(seq, rating, float(standing["weight"]))
        return {"seq": seq, "rater": rater, "kind": kind, "value": value, "new": True,
                "records_reweighted": moved}  # fmt: skip

    def _reweight(self, seq: int, rating: Rating, weight: float) -> int:
        """Spread one rating over the records behind the call; flag records for review."""
        from fairwheel.feedback import (
            RecordFeedback,
            ReweightPolicy,
            add_rating,
            p_bad,
            record_weight,
        )

        shares = self.store.call_records([seq])[seq]
        if not shares:
            return 0
        ids = [rid for rid, _ in shares]
        current = {rid: RecordFeedback(*gb) for rid, gb in self.store.record_feedback(ids).items()}
        if not add_rating(current, rating, shares, weight):
            return 0
        policy = ReweightPolicy()
        rows = [(rid, record_weight(fb, policy), fb.good, fb.bad) for rid, fb in current.items()]
        self.store.set_record_weights(rows)
        records = self.store.records_by_ids(ids)
        for rid, fb in current.items():
            if fb.mass < policy.min_mass:
                continue
            chance = p_bad(fb, policy)
            reasons = records[rid]["reasons"]
            if chance > policy.review_threshold and not any(
                r.startswith(REVIEW_TAG) for r in reasons
            ):
                note = f"{REVIEW_TAG} p_bad {chance:.2f} good {fb.good:.2f} bad {fb.bad:.2f}"
                self.store.set_status(rid, records[rid]["status"], [*reasons, note])
        return len(rows)

    def feedback_suspects(self, pool_id: int) -> list[RecordRow]:
        """Accepted records that feedback sent to review (not yet decided by a reviewer)."""
        return [
            r for r in self.store.records(pool_id, RecordStatus.ACCEPTED.value)
            if not r["pinned"] and any(x.startswith(REVIEW_TAG) for x in r["reasons"])
        ]  # fmt: skip

    def set_gold(self, seq: int, good: bool) -> None:
        """The operator knows the right rating of this call (a hidden gold question)."""
        self.store.ledger_entry(seq)
        with self.store.transaction():
            self.store.set_gold(seq, int(good))

    # -- arena ----------------------------------------------------------------------------
    def challenger(self, pool_id: int) -> ModelRow:
        """The version an arena call compares with the serving one: the newest other
        version (a kept candidate), else the previously promoted one.

        Raises:
            Conflict: the pool has a single version.
        """
        stack = self.store.serving_stack(pool_id)
        models = self.store.models(pool_id)
        serving = stack[-1] if stack else None
        others = [m for m in models if m["id"] != serving]
        if not others:
            raise Conflict(f"pool {pool_id} has one model version: nothing to compare in arena")
        return others[-1]

    def arena_record(self, pool_id: int, a: int, b: int) -> tuple[int, int]:
        """``(wins of version a, games)`` over arena votes between model ids a and b."""
        wins = self.arena_wins(pool_id)
        return wins[(a, b)], wins[(a, b)] + wins[(b, a)]

    def arena_wins(self, pool_id: int) -> Counter[tuple[int, int]]:
        """``(winner, loser) -> games`` over every voted arena call of the pool (one read)."""
        votes = {f["seq"]: f["value"] for f in self.store.feedback(pool_id) if f["kind"] == "arena"}
        wins: Counter[tuple[int, int]] = Counter()
        for game in self.store.arenas(pool_id):
            if game["seq"] in votes:
                ids = [int(x["model_id"]) for x in game["answers"]]
                choice = votes[game["seq"]]
                wins[(ids[choice], ids[1 - choice])] += 1
        return wins

    def prediction_goodness(self, pool_id: int, model_id: int) -> list[float]:
        """Goodness (0..1) of thumbs/stars ratings of a version's predictions, oldest first."""
        from fairwheel.feedback import Rating, goodness

        served = set(self.store.calls_of_model(model_id))
        return [
            goodness(Rating(f["seq"], f["rater"], f["kind"], f["value"], int(f["time"])))
            for f in self.store.feedback(pool_id)
            if f["seq"] in served and f["kind"] != "arena"
        ]

    # -- rater pay ------------------------------------------------------------------------
    def set_feedback_budget(self, pool_id: int, per_epoch: int) -> None:
        """Base units the operator pays raters per epoch, from its escrow in the pool."""
        if per_epoch < 0:
            raise SchemaError("the feedback budget cannot be negative")
        self.store.pool(pool_id)
        with self.store.transaction():
            self.store.set_feedback_budget(pool_id, per_epoch)

    def pay_raters(self, pool_id: int) -> dict[str, Any]:
        """Judge this epoch's raters and pay them from the feedback budget (plus carried dust).

        Raises:
            InsufficientFunds: the operator's escrow in the pool does not cover the budget.
        """
        from eth_utils import keccak

        from fairwheel.domain.typed_data import Voucher, sign_voucher
        from fairwheel.feedback import Rating, judge_raters, pay_raters, to_bit

        per_epoch, dust = self.store.feedback_budget(pool_id)
        rows = self.store.feedback(pool_id, unpaid=True)
        budget = per_epoch + dust
        if not rows or budget == 0:
            return {"paid": {}, "dust": dust, "spammy": [], "ratings": len(rows)}
        votes = []
        for f in rows:
            bit = f["value"] if f["kind"] == "arena" else to_bit(
                Rating(f["seq"], f["rater"], f["kind"], f["value"], int(f["time"])))  # fmt: skip
            if bit is not None:
                votes.append((f["seq"], f["rater"], int(bit)))
        judgements = judge_raters(votes, self.store.gold([f["seq"] for f in rows]))
        payout = pay_raters(judgements, budget)
        paid = sum(payout.paid.values())
        if paid > self.ledger.escrow_free(pool_id):
            raise InsufficientFunds(f"the operator's free escrow in pool {pool_id} does not "
                                    f"cover {paid} for raters")  # fmt: skip
        last_seq = max(f["seq"] for f in rows)
        with self.store.transaction():
            if paid:
                owner = self.operator.address
                voucher = Voucher(owner, pool_id, self.ledger.spent(pool_id, owner) + paid)
                signature = sign_voucher(voucher, self.voucher_domain(), self.operator.key)
                pool_dust = self.store.pool_dust(pool_id)
                evidence = {r: j.to_dict() for r, j in judgements.items()}
                digest = canonical_json({"feedback_through": last_seq, "raters": evidence})
                self.ledger.append(
                    pool_id, voucher, signature, kind="feedback", price=paid,
                    query_hash="0x" + keccak(digest).hex(), operator_fee=0, builder=None,
                    builder_amount=0, attribution=sorted(payout.paid.items()),
                    dust_in=pool_dust, dust_out=pool_dust,
                )  # fmt: skip
            self.store.set_feedback_dust(pool_id, payout.dust)
            self.store.mark_feedback_paid(pool_id, last_seq)
            standing = {r: {"weight": j.weight, "spammy": j.spammy} for r, j in judgements.items()}
            self.store.set_meta(f"raters:{pool_id}", json.dumps(standing))
        return {"paid": dict(payout.paid), "dust": payout.dust, "spammy": list(payout.spammy),
                "ratings": len(rows)}  # fmt: skip

    def _rater_standing(self, pool_id: int) -> dict[str, dict[str, Any]]:
        """Each judged rater's ``{"weight", "spammy"}`` from the last payment."""
        raw = self.store.get_meta(f"raters:{pool_id}")
        return {} if raw is None else dict(json.loads(raw))

    def _staked(self, pool_id: int, rater: str) -> bool:
        from fairwheel.chain.types import StakeRole

        return int(self.protocol.stake_of(pool_id, rater, StakeRole.RATER).staked) > 0

    # -- exports --------------------------------------------------------------------------
    def export_preferences(self, pool_id: int, path: Path) -> int:
        """Arena votes as preference pairs (JSONL); only pairs whose records' consent allows."""
        from fairwheel.exports import (
            PreferencePair,
            consent_allows_preferences,
            write_preferences_jsonl,
        )

        votes = {f["seq"]: f for f in self.store.feedback(pool_id) if f["kind"] == "arena"}
        now = self.chain.now()
        pairs = []
        for game in self.store.arenas(pool_id):
            vote = votes.get(game["seq"])
            if vote is None:
                continue
            behind = [rid for rid, _ in self.store.call_records([game["seq"]])[game["seq"]]]
            records = self.store.records_by_ids(behind)
            if not all(consent_allows_preferences(r["purposes"], r["licence"], r["expiry"], now)
                       for r in records.values()):  # fmt: skip
                continue
            chosen, rejected = game["answers"][vote["value"]], game["answers"][1 - vote["value"]]
            prompt = bytes(self.blobs.get(game["prompt_blob"])).decode()
            pairs.append(PreferencePair(
                prompt=prompt, chosen=str(chosen["answer"]),
                rejected=str(rejected["answer"]), pool_id=pool_id, call_seq=game["seq"],
                rater=vote["rater"], chosen_source=f"model:{chosen['model_id']}",
                rejected_source=f"model:{rejected['model_id']}", chosen_records=behind,
                rejected_records=[], time=int(vote["time"]),
            ))  # fmt: skip
        return write_preferences_jsonl(pairs, path)

    def export_training(self, pool_id: int, path: Path) -> int:
        """The pool's accepted, consented, licence-permitting records as Parquet, with
        provenance columns (contributor, record hash, licence, consent, anchoring batch)."""
        from fairwheel.exports import TrainingRow, consent_allows_training, write_training_parquet

        now = self.chain.now()
        rows = []
        for rec in self.store.records(pool_id, RecordStatus.ACCEPTED.value):
            if not consent_allows_training(rec["purposes"], rec["licence"], rec["expiry"], now):
                continue
            if rec["blob_name"] is None:  # content not kept
                continue
            try:
                text = bytes(self.blobs.get(rec["blob_name"])).decode()
            except NotFound:
                continue
            root = None
            if rec["batch_id"] is not None:
                root = self.store.batch(pool_id, rec["batch_id"])["root"]
            rows.append(TrainingRow(
                record_id=rec["id"], text=text, label=rec["label"], contributor=rec["contributor"],
                record_hash="0x" + rec["record_hash"].hex(), licence=rec["licence"],
                purposes=rec["purposes"], consent_expiry=rec["expiry"], batch_id=rec["batch_id"],
                batch_root=root, score=float(rec["score"]), pool_id=pool_id,
            ))  # fmt: skip
        digest = hashlib.sha256(canonical_json([r.record_hash for r in rows])).hexdigest()
        meta = {"pool_id": str(pool_id), "records": str(len(rows)), "exported_at": str(now),
                "record_hashes_sha256": digest}  # fmt: skip
        return write_training_parquet(rows, path, metadata=meta)
