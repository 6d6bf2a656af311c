"""Revocation: a contributor takes a record back, and it is never served or paid again.

On-chain the record's leaf is revoked in ``PoolRegistry`` (by the contributor's own
transaction, or relayed by the node with their EIP-712 ``Revocation`` signature); off-chain it
leaves the index, its content key is destroyed, models trained on it are marked and the
serving one is retrained. Each step is recorded with its time, so the contributor can see it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import RecordStatus
from fairwheel.errors import Conflict, NotFound
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.node.contributions import ContributionService
    from fairwheel.node.pools import PoolService
    from fairwheel.node.ports import NodePorts
    from fairwheel.node.serving import ServingService
    from fairwheel.node.versions import VersionService

__all__ = ["RevocationService"]


class RevocationService(Service):
    """Revoke records and propagate every consequence."""

    def __init__(
        self,
        ports: NodePorts,
        pools: PoolService,
        contributions: ContributionService,
        versions: VersionService,
        serving: ServingService,
    ) -> None:
        super().__init__(ports)
        self.pools = pools
        self.contributions = contributions
        self.versions = versions
        self.serving = serving

    def revoke(self, record_id_: int, contributor: Any) -> str:
        """Revoke a record by its contributor's own transaction, and propagate it.

        From the next call on the record is never served or paid: it leaves the index, its
        content key is destroyed, the revocation is on-chain, and models trained on it are
        marked and the serving one retrained (:meth:`propagate_revocation`).
        """
        rec = self.store.record(record_id_)
        if rec["contributor"] != contributor.address.lower():
            raise Conflict("only the record's contributor can revoke it")
        if rec["status"] == RecordStatus.REVOKED:
            raise Conflict(f"record {record_id_} is already revoked")
        receipt = self.pools.receipt(record_id_)
        tx = self.protocol.revoke(
            rec["pool_id"], receipt.batch_id, rec["record_hash"],
            [bytes.fromhex(p[2:]) for p in receipt.proof], sender=contributor,
        )  # fmt: skip
        self.ports.record_gas("revoke", tx)
        self.propagate_revocation(record_id_, str(tx.tx_hash))
        return str(tx.tx_hash)

    def revoke_signed(self, record_id_: int, signature: bytes) -> str | None:
        """Revoke a record with its contributor's EIP-712 ``Revocation`` signature.

        As :meth:`revoke`, but the node's key relays ``PoolRegistry.revokeWithSig`` (the
        contributor needs no gas). The signature is checked off-chain first, so a forged one
        costs nothing. A record accepted but not anchored yet has nothing on-chain: it is
        revoked off-chain only (the next batch will not include it) and no transaction is
        returned.

        Raises:
            SignatureError: If the contributor did not sign this revocation.
            Conflict: If the record is already revoked or was never accepted.
        """
        from fairwheel.domain.typed_data import Revocation, verify_revocation

        rec = self.store.record(record_id_)
        if rec["status"] == RecordStatus.REVOKED:
            raise Conflict(f"record {record_id_} is already revoked")
        if rec["status"] not in (RecordStatus.ACCEPTED, RecordStatus.QUARANTINED):
            raise Conflict(f"record {record_id_} was {rec['status']}: there is nothing to revoke")
        record_hash = bytes(rec["record_hash"])
        revocation = Revocation(rec["contributor"], int(rec["pool_id"]), record_hash)
        verify_revocation(revocation, self.consent_domain(), signature)
        tx_hash: str | None = None
        if rec["batch_id"] is not None:
            receipt = self.pools.receipt(record_id_)
            tx = self.protocol.revoke_with_sig(
                rec["pool_id"], receipt.batch_id, record_hash, receipt.contributor,
                [bytes.fromhex(p[2:]) for p in receipt.proof], signature, sender=self.operator,
            )  # fmt: skip
            self.ports.record_gas("revoke_with_sig", tx)
            tx_hash = str(tx.tx_hash)
        self.propagate_revocation(record_id_, tx_hash)
        return tx_hash

    def propagate_revocation(self, record_id_: int, tx_hash: str | None) -> None:
        """Everything a revocation does off-chain, each step recorded with its time."""
        rec = self.store.record(record_id_)
        pool_id = int(rec["pool_id"])
        index = self.index(pool_id)  # taken while it mirrors the store: updated in place below
        with self.ports.servable_change(pool_id) as servable:
            self.store.set_status(
                record_id_, RecordStatus.REVOKED.value, ["revoked by contributor"]
            )
            self.store.add_revocation_step(
                record_id_, "revoked", f"on-chain in {tx_hash}" if tx_hash else
                "off-chain only (never anchored)", tx_hash or "",
            )  # fmt: skip
        index.remove([record_id_])
        servable.settle(index)
        with self.store.transaction():
            self.store.add_revocation_step(record_id_, "unserved", "removed from the index")
        index.save()
        if (state := self.contributions.gates.get(pool_id)) is not None:
            state.finder.remove(record_id_)  # a revoked record no longer owns near copies
            state.accepted -= rec["status"] == RecordStatus.ACCEPTED
        if rec["blob_name"]:
            self.blobs.destroy(rec["blob_name"])
            self.serving.forget_texts([rec["blob_name"]])  # no plaintext left in this process
        marked = self.store.models_with_record(record_id_)
        with self.store.transaction():
            self.store.add_revocation_step(record_id_, "key_destroyed", "content key shredded")
            for model_id in marked:
                self.store.taint(model_id, record_id_)
            versions = [self.store.model(m)["version"] for m in marked]
            self.store.add_revocation_step(
                record_id_, "models_marked", f"versions {versions}" if versions else "none"
            )
        stack = self.store.serving_stack(pool_id)
        if stack and stack[-1] in marked and self.settings.retrain_on_revoke:
            builder = self.store.model(stack[-1])["builder"]
            try:
                new = self.versions.train(pool_id, builder, trigger="revocation")
            except Conflict as exc:  # too few records left: the notice stays until then
                with self.store.transaction():
                    self.store.add_revocation_step(record_id_, "retrain_pending", exc.message)
                return
            with self.store.transaction():
                self.store.add_revocation_step(
                    record_id_, "retrained", f"version {new['version']} (model {new['id']})"
                )

    def revocation_status(self, record_id_: int) -> dict[str, Any]:
        """The steps of a record's revocation so far (NotFound if it was never revoked)."""
        status = self.store.revocation(record_id_)
        if status is None:
            raise NotFound(f"record {record_id_} has not been revoked")
        return status
