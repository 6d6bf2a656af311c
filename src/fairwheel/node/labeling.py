"""Paid labeling jobs in the node: escrowed bounty, staked labelers, labels flowing back.

The bounty is held in the pool's ``UsageEscrow`` as a deposit of the operator (the job's
owner). Closing a job pays the labelers through the same settlement as every paid call: a
ledger entry of kind ``labeling`` carried by a voucher the operator signs for exactly the
amount paid, redeemed at the next epoch close, claimed from the ``RewardDistributor``. What
is not paid out stays in escrow, withdrawable. Confirmed labels are stored beside the
record (its identity covers the contributor's original label, so that is not rewritten),
and the labelers whose answers confirmed a label share ``labeler_share_bps`` of that
record's later earnings.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import RecordStatus, canonical_json
from fairwheel.errors import Conflict, InsufficientFunds, NotFound
from fairwheel.node.contributions import StatusChange
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.labeling.job import JobResult, LabelingJob
    from fairwheel.node.contributions import ContributionService
    from fairwheel.node.ledger import LedgerService
    from fairwheel.node.ports import NodePorts

LABELER_ROLE = 0  # Staking.Role.Labeler


class LabelingService(Service):
    """Labeling jobs: open, hand out tasks, take answers, close and pay."""

    def __init__(
        self, ports: NodePorts, ledger: LedgerService, contributions: ContributionService
    ) -> None:
        super().__init__(ports)
        self.ledger = ledger
        self.contributions = contributions

    def open_labeling_job(
        self,
        pool_id: int,
        record_ids: Sequence[int],
        labels: Sequence[str],
        *,
        overlap: int,
        budget: int,
        gold: Mapping[int, str] | None = None,
        gold_share: float = 0.0,
        min_stake: int = 0,
        seed: int | None = None,
    ) -> str:
        """Open a job over the pool's records; the bounty must already be in escrow.

        Raises:
            InsufficientFunds: the operator's free escrow in the pool is below ``budget``.
            NotFound: a record is not in the pool.
        """
        from fairwheel.labeling.job import LabelingJob

        ids = list(record_ids) + list(gold or {})
        found = self.store.records_by_ids(ids)
        missing = [r for r in ids if r not in found or found[r]["pool_id"] != pool_id]
        if missing:
            raise NotFound(f"records {missing[:5]} are not in pool {pool_id}")
        free = self.ledger.escrow_free(pool_id)
        if budget > free:
            raise InsufficientFunds(
                f"the bounty of {budget} needs that much free escrow in pool {pool_id}; "
                f"the operator has {free} — deposit more first",
                free=str(free),
            )
        job_id = f"job-{pool_id}-{secrets.token_hex(6)}"
        job = LabelingJob.open(
            job_id,
            [str(r) for r in record_ids],
            list(labels),
            overlap=overlap,
            budget=budget,
            gold={str(r): label for r, label in (gold or {}).items()},
            gold_share=gold_share,
            seed=seed,
        )
        with self.store.transaction():
            self.store.insert_job(
                {"id": job_id, "pool_id": pool_id, "budget": budget, "min_stake": min_stake,
                 "state": job.to_dict()}
            )  # fmt: skip
        return job_id

    def _job(self, job_id: str) -> tuple[dict[str, Any], LabelingJob]:
        from fairwheel.labeling.job import LabelingJob

        row = self.store.job(job_id)
        return row, LabelingJob.from_dict(row["state"])

    def take_labeling_tasks(self, job_id: str, labeler: str, n: int = 5) -> list[dict[str, Any]]:
        """Hand a staked labeler up to ``n`` tasks (gold mixed in unmarked), with their texts.

        Raises:
            Conflict: the labeler's stake is below the job's minimum, or the job is closed.
        """
        row, job = self._job(job_id)
        if row["min_stake"] > 0:
            stake = int(self.protocol.stake_of(row["pool_id"], labeler, LABELER_ROLE).staked)
            if stake < row["min_stake"]:
                raise Conflict(
                    f"labeler {labeler} has staked {stake}, the job needs {row['min_stake']}"
                )
        tasks = job.take(labeler.lower(), n)
        with self.store.transaction():
            self.store.save_job(job_id, job.to_dict(), None)
        return [
            {"task_id": t.task_id, "record_id": int(t.item), "text": self.record_text(int(t.item))}
            for t in tasks
        ]

    def submit_labels(self, job_id: str, labeler: str, answers: Sequence[tuple[str, str]]) -> int:
        """Record a labeler's answers ``(task_id, label)``; all or nothing."""
        _, job = self._job(job_id)
        for task_id, label in answers:
            job.submit(labeler.lower(), task_id, label)
        with self.store.transaction():
            self.store.save_job(job_id, job.to_dict(), None)
        return len(answers)

    def close_labeling_job(self, job_id: str) -> JobResult:
        """Aggregate, pay the labelers through the ledger, and let confirmed labels flow back."""
        from fairwheel.domain.typed_data import Voucher, sign_voucher

        row, job = self._job(job_id)
        if row["status"] != "open":
            raise Conflict(f"labeling job {job_id} is already closed")
        pool_id = int(row["pool_id"])
        result = job.close()
        paid = sum(result.payout.paid.values())
        released: list[StatusChange] = []
        with self.store.transaction():
            if paid:
                owner = self.operator.address
                voucher = Voucher(owner, pool_id, self.ledger.spent(pool_id, owner) + paid)
                signature = sign_voucher(voucher, self.voucher_domain(), self.operator.key)
                dust = self.store.pool_dust(pool_id)
                digest = canonical_json({"job": job_id, "evidence": result.to_dict()["workers"]})
                self.ledger.append(
                    pool_id, voucher, signature, kind="labeling", price=paid,
                    query_hash="0x" + hashlib.sha256(digest).hexdigest(), operator_fee=0,
                    builder=None, builder_amount=0,
                    attribution=sorted((a.lower(), v) for a, v in result.payout.paid.items()),
                    dust_in=dust, dust_out=dust,
                )  # fmt: skip
            for item, verdict in result.labels.items():
                if not verdict.confirmed:
                    continue
                rid = int(item)
                self.store.put_record_label(rid, verdict.label, verdict.confidence, job_id)
                if result.credit.get(item):
                    self.store.put_credit(rid, result.credit[item])
                rec = self.store.record(rid)
                if rec["status"] == RecordStatus.QUARANTINED:
                    # The crowd confirmed the label: released and pinned against rescoring.
                    reasons = (f"label confirmed by {job_id}", *rec["reasons"])
                    score = rec["score"]
                    self.store.set_verdict(rid, "accepted", score, reasons, pinned=True)
                    released.append(StatusChange(rid, rec["status"], "accepted", reasons))
            self.store.save_job(job_id, job.to_dict(), result.to_dict())
        self.contributions.apply_changes(pool_id, released)
        return result
