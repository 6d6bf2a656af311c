"""Model versions, and the retraining a revocation calls for.

Every training run is a version: its dataset root, held-out metrics and promotion report are
stored and registered on-chain. A candidate is promoted only if it does not regress on the
held-out split (compared with the serving version on the same records) or on recent arena
feedback; otherwise it is kept, unpromoted, with its report. Rollback pops the serving stack.

A revocation is on-chain, leaves the index and destroys the content key at once; every version
trained on the record is marked, the serving one is retrained without it right away (a
revocation overrides the no-regression rule: the new version is promoted anyway), and until
then its predictions carry a notice. The revocation itself is
:mod:`fairwheel.node.revocation`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from fairwheel.domain.records import RecordStatus, canonical_json, checksum_address
from fairwheel.domain.rows import ModelRow
from fairwheel.domain.typed_data import PURPOSE_TRAINING
from fairwheel.errors import Conflict, NotFound
from fairwheel.node.pools import CONTRIBUTION_LEAF
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.node.feedback import FeedbackService
    from fairwheel.node.ports import NodePorts


# A fixed fifth of the records is never trained on by any version: its evaluation set.
HOLDOUT_BYTE = 52  # record_hash[0] < 52 of 256 ≈ 20%
RETRAIN_GROWTH = 0.1  # new accepted training records, relative to the serving dataset
RETRAIN_MIN_NEW = 20
FEEDBACK_DRIFT = 0.15  # drop in the share of good ratings of predictions that retrains


class VersionService(Service):
    """Training, promotion, rollback and revocation."""

    def __init__(self, ports: NodePorts, feedback: FeedbackService) -> None:
        super().__init__(ports)
        self.feedback = feedback

    # -- training -------------------------------------------------------------------------
    def train(
        self, pool_id: int, builder: str, *, k: int = 10, trigger: str = "manual"
    ) -> dict[str, Any]:
        """Train a new version on the pool's consented records and register it on-chain.

        Training records are valued by exact KNN-Shapley on the held-out split (clipped at
        zero); those values split the contributors' part of each paid prediction while the
        version serves. The version is promoted unless it regresses (see module docstring).

        Returns:
            The stored version, with ``promoted`` and its ``report``.

        Raises:
            Conflict: too few consented, labelled records (fewer than 10, or one class).
        """
        from eth_utils import keccak

        from fairwheel.domain.merkle import StandardMerkleTree
        from fairwheel.training.classifier import train_classifier
        from fairwheel.valuation import knn_shapley_classification

        ids, vectors = self.store.embeddings(pool_id)
        records = self.store.records_by_ids(ids)
        now = self.chain.now()
        keep = [
            i
            for i, rid in enumerate(ids)
            if records[rid]["purposes"] & PURPOSE_TRAINING
            and records[rid]["expiry"] > now
            and records[rid]["label"] is not None
        ]
        train_ids = [ids[i] for i in keep]
        x = vectors[keep] if keep else np.zeros((0, 0), dtype=np.float32)
        labels = [str(records[r]["label"]) for r in train_ids]  # all labelled (kept above)
        mask = np.asarray([records[r]["record_hash"][0] < HOLDOUT_BYTE for r in train_ids])
        result = train_classifier(x, labels, holdout_mask=mask)
        y = np.asarray(labels)
        values = knn_shapley_classification(
            x[result.train_index], y[result.train_index],
            x[result.holdout_index], y[result.holdout_index],
            k=k, metric="cosine", ids=np.asarray([train_ids[i] for i in result.train_index]),
        )  # fmt: skip
        value_of = {
            train_ids[i]: max(0.0, float(v))
            for i, v in zip(result.train_index, values, strict=True)
        }
        leaves = [
            [records[r]["record_hash"], checksum_address(records[r]["contributor"])]
            for r in train_ids
        ]
        dataset_root = StandardMerkleTree.of(leaves, list(CONTRIBUTION_LEAF)).root_hex
        report = self._promotion_report(
            pool_id, result, x[result.holdout_index], y[result.holdout_index], trigger
        )
        metrics_json = canonical_json(result.metrics)
        metrics_hash = "0x" + keccak(metrics_json).hex()
        tx = self.protocol.register_model(
            pool_id,
            bytes.fromhex(result.model.model_hash[2:]),
            bytes.fromhex(dataset_root[2:]),
            bytes.fromhex(metrics_hash[2:]),
            f"fairwheel://pool/{pool_id}/model",
            sender=self.operator,
        )
        self._record_gas("register_model", tx)
        model = {
            "pool_id": pool_id, "chain_id": int(tx.value), "builder": builder.lower(),
            "model_hash": result.model.model_hash, "dataset_root": dataset_root,
            "metrics": metrics_json.decode(), "metrics_hash": metrics_hash,
            "artifact": result.model.to_bytes(), "tx_hash": tx.tx_hash,
            "version": self.store.next_model_version(pool_id), "trigger": trigger,
            "report": report,
        }  # fmt: skip
        with self.store.transaction():
            model_id = self.store.insert_model(model, value_of)
            self.store.put_model_records(model_id, train_ids)
            action = "promoted" if report["promoted"] else "kept"
            self.store.add_model_event(pool_id, model_id, action, report["reason"])
        return {**self.store.model(model_id), "promoted": report["promoted"]}

    def _promotion_report(
        self, pool_id: int, result: Any, x_hold: np.ndarray, y_hold: np.ndarray, trigger: str
    ) -> dict[str, Any]:
        """Compare the candidate with the serving version on the candidate's held-out split."""
        from fairwheel.feedback import should_promote
        from fairwheel.training.classifier import LinearModel

        candidate = {"accuracy": float(result.metrics["accuracy"])}
        try:
            serving = self.store.serving_model(pool_id)
        except NotFound:
            serving = None
        current = None
        if serving is not None and len(y_hold):
            old = LinearModel.from_bytes(serving["artifact"])
            current = {"accuracy": float(np.mean(old.predict(x_hold) == y_hold))}
        ok, reason = should_promote(candidate, current, None)
        if not ok and trigger == "revocation":
            ok, reason = (
                True,
                f"{reason}; promoted anyway: the serving version used a revoked record",
            )
        return {
            "promoted": ok,
            "reason": reason,
            "trigger": trigger,
            "candidate_accuracy": candidate["accuracy"],
            "serving_accuracy": None if current is None else current["accuracy"],
            "serving_model": None if serving is None else int(serving["id"]),
            "holdout_size": len(y_hold),
        }

    # -- serving versions -----------------------------------------------------------------
    def promote(
        self, pool_id: int, model_id: int, reason: str = "promoted by the operator"
    ) -> None:
        """Serve a kept version (the operator overrides the report)."""
        if self.store.model(model_id)["pool_id"] != pool_id:
            raise NotFound(f"model {model_id} is not in pool {pool_id}")
        if self.store.serving_stack(pool_id)[-1:] == [model_id]:
            raise Conflict(f"model {model_id} is already serving")
        with self.store.transaction():
            self.store.add_model_event(pool_id, model_id, "promoted", reason)

    def rollback(self, pool_id: int) -> ModelRow:
        """Serve the previously promoted version again; returns it.

        Raises:
            Conflict: no earlier promoted version.
        """
        stack = self.store.serving_stack(pool_id)
        if len(stack) < 2:
            raise Conflict(f"pool {pool_id} has no earlier promoted version to roll back to")
        back = self.store.model(stack[-2])
        with self.store.transaction():
            self.store.add_model_event(
                pool_id, stack[-1], "rollback", f"back to version {back['version']}"
            )
        return back

    def model_versions(self, pool_id: int) -> list[dict[str, Any]]:
        """Every version with its metrics, report, serving state, arena record and taints."""
        stack = self.store.serving_stack(pool_id)
        serving = stack[-1] if stack else None
        arena = self.feedback.arena_wins(pool_id)
        out = []
        for model in self.store.models(pool_id):
            mid = int(model["id"])
            wins, n = 0, 0
            if serving not in (None, mid):
                wins, n = arena[(mid, serving)], arena[(mid, serving)] + arena[(serving, mid)]
            out.append({
                "id": mid, "version": model["version"], "trigger": model["trigger"],
                "serving": mid == serving, "promoted_before": mid in stack,
                "accuracy": model["metrics"].get("accuracy"), "dataset_root": model["dataset_root"],
                "model_hash": model["model_hash"], "tx_hash": model["tx_hash"],
                "report": model["report"], "arena_wins": wins, "arena_games": n,
                "revoked_records": [t["record_id"] for t in self.store.taints(mid)],
                "created_at": model["created_at"],
            })  # fmt: skip
        return out

    def serving_notice(self, model: ModelRow) -> str | None:
        """The notice predictions carry while a version trained on revoked records serves."""
        taints = self.store.taints(int(model["id"]))
        if not taints:
            return None
        return (f"model version {model['version']} was trained on {len(taints)} record(s) "
                "revoked since; a version without them is pending")  # fmt: skip

    def retrain_trigger(self, pool_id: int) -> str | None:
        """Why the pool should be retrained now, or None.

        ``revocation``: the serving version used a revoked record; ``new_data``: accepted
        training records grew by 10% (at least 20) since its dataset; ``feedback``: the share of
        good ratings of its predictions dropped by 0.15 between the older and newer half.
        """
        try:
            serving = self.store.serving_model(pool_id)
        except NotFound:
            return "new_data" if self.store.status_counts(pool_id).get("accepted") else None
        if self.store.taints(int(serving["id"])):
            return "revocation"
        used = len(self.store.model_records_of(int(serving["id"])))
        labelled = self.store.labelled_count(pool_id)
        if labelled - used >= max(RETRAIN_MIN_NEW, RETRAIN_GROWTH * used):
            return "new_data"
        goods = self.feedback.prediction_goodness(pool_id, int(serving["id"]))
        if len(goods) >= 20:
            half = len(goods) // 2
            if np.mean(goods[:half]) - np.mean(goods[half:]) >= FEEDBACK_DRIFT:
                return "feedback"
        return None

    def reconsider(self, pool_id: int, min_arena: int = 20) -> ModelRow | None:
        """Roll back a serving version that regresses on recent feedback.

        Once the serving version has ``min_arena`` arena games against the version it replaced
        and the upper end of the 95% Wilson interval of its win rate is below one half, the
        previous version serves again. Returns the version now serving, or None if unchanged.
        """
        from fairwheel.feedback import win_rate

        stack = self.store.serving_stack(pool_id)
        if len(stack) < 2:
            return None
        serving, previous = self.store.model(stack[-1]), self.store.model(stack[-2])
        wins, games = self.feedback.arena_record(pool_id, int(serving["id"]), int(previous["id"]))
        rate = win_rate(wins, games)
        if games < min_arena or rate.wilson_high >= 0.5:
            return None
        detail = (f"version {serving['version']} won {wins} of {games} arena games against "
                  f"version {previous['version']} (95% interval up to {rate.wilson_high:.3f}): "
                  f"back to version {previous['version']}")  # fmt: skip
        with self.store.transaction():
            self.store.add_model_event(pool_id, int(serving["id"]), "rollback", detail)
        return previous

    def upkeep(self, pool_id: int, builder: str) -> dict[str, Any] | None:
        """Roll back a version that loses the arena (:meth:`reconsider`), then retrain if
        :meth:`retrain_trigger` says so; returns the new version or None."""
        self.reconsider(pool_id)
        trigger = self.retrain_trigger(pool_id)
        if trigger is None:
            return None
        try:
            return self.train(pool_id, builder, trigger=trigger)
        except Conflict:
            return None  # too few records to train: nothing to serve yet

    def export_contributions(self, contributor: str) -> list[dict[str, Any]]:
        """Everything a contributor sent that the node still holds, decrypted (before revoking)."""
        out = []
        for rec in self.store.records_of(contributor.lower()):
            text = None
            if rec["blob_name"] and rec["status"] != RecordStatus.REVOKED:
                text = bytes(self.blobs.get(rec["blob_name"])).decode()
            out.append({
                "record_id": rec["id"], "pool_id": rec["pool_id"], "status": rec["status"],
                "text": text, "label": rec["label"], "licence": rec["licence"],
                "purposes": rec["purposes"], "consent_expiry": rec["expiry"],
                "record_hash": "0x" + rec["record_hash"].hex(), "score": rec["score"],
                "reasons": rec["reasons"], "batch_id": rec["batch_id"],
                "content_sha256": hashlib.sha256(text.encode()).hexdigest() if text else None,
            })  # fmt: skip
        return out
