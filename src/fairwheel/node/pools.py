"""Pools and their anchored batches: create, pause and unpause a pool on-chain, anchor records,
receipts, stats; and what a fresh node on a real chain must be funded with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import canonical_json, checksum_address
from fairwheel.domain.rows import PoolRow
from fairwheel.errors import Conflict, Forbidden, SchemaError
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.config import Settings

__all__ = [
    "CONTRIBUTION_LEAF",
    "DEPLOY_GAS",
    "FIRST_POOL_GAS",
    "FIXED_POOL_TERMS",
    "PoolService",
    "Receipt",
    "deployment_funding",
]

# The leaf of a contribution batch (and of a model's dataset root): record hash, contributor.
CONTRIBUTION_LEAF = ("bytes32", "address")

MAX_BPS = 10_000

#: Gas of the five deployments a fresh node sends (docs/protocol.md, "Gas": FairToken,
#: PoolRegistry, UsageEscrow, RewardDistributor, Staking) and of its first ``createPool``.
DEPLOY_GAS = 988_121 + 1_866_183 + 1_523_352 + 1_105_098 + 1_010_067
FIRST_POOL_GAS = 208_271
# The chain client reserves its gas estimate + 20% for every transaction (chain.client).
_GAS_LIMIT_MARGIN = 1.2
# The fee advice on a chain that does not answer eth_maxPriorityFeePerGas (1 gwei).
_DEFAULT_TIP = 10**9

#: The terms a pool is created with that no call can change afterwards, each with the reason.
FIXED_POOL_TERMS: dict[str, str] = {
    name: "PoolRegistry stores a pool's prices and fee split once, at createPool, and has no "
    "call to change them"
    for name in ("search_price", "predict_price", "operator_fee_bps", "builder_share_bps")
} | {
    name: "it is bound into the pool's on-chain metadata hash at createPool (and every "
    "contributor's consent was signed for the pool as created)"
    for name in ("name", "labels", "licence", "labeler_share_bps")
}


@dataclass(frozen=True)
class Receipt:
    """Proof that a record is in an anchored batch: verify it with ``PoolRegistry.isAnchored``.

    ``status``, ``score`` and ``reasons`` are the record's current verdict: rescoring as the pool
    grows can quarantine a record accepted (and anchored) earlier; it then earns nothing.
    """

    record_id: int
    pool_id: int
    batch_id: int
    record_hash: str
    contributor: str
    root: str
    proof: list[str]
    tx_hash: str
    status: str = "accepted"
    score: float = 0.0
    reasons: tuple[str, ...] = ()


class PoolService(Service):
    """Pools, anchoring and inclusion receipts."""

    def create_pool(
        self,
        name: str,
        *,
        search_price: int,
        predict_price: int,
        operator_fee_bps: int,
        builder_share_bps: int,
        labels: Sequence[str] = (),
        licence: str = "CC-BY-4.0",
        guardian: str | None = None,
        labeler_share_bps: int = 0,
    ) -> PoolRow:
        """Create a pool on-chain and record it; the node's key is its operator.

        ``labeler_share_bps`` is the off-chain part of a labelled record's earnings that goes
        to its labelers; it is bound into the pool's on-chain metadata hash. The terms are
        fixed for the pool's life (:data:`FIXED_POOL_TERMS`).

        Raises:
            SchemaError: an empty name or licence, a negative or non-integer price, basis points
                outside 0..10000 or an operator fee and builder share over 10000 together,
                empty or repeated labels — before any transaction is sent.
        """
        from eth_utils import keccak

        _check_terms(name, search_price, predict_price, operator_fee_bps, builder_share_bps,
                     labeler_share_bps, labels, licence)  # fmt: skip
        meta = {"name": name, "labels": sorted(labels), "licence": licence,
                "labeler_share_bps": labeler_share_bps}  # fmt: skip
        tx = self.protocol.create_pool(
            sender=self.operator,
            guardian=guardian or self.operator.address,
            search_price=search_price,
            predict_price=predict_price,
            operator_fee_bps=operator_fee_bps,
            builder_share_bps=builder_share_bps,
            metadata_hash=keccak(canonical_json(meta)),
        )
        self._record_gas("create_pool", tx)
        pool_id = int(tx.value)
        pool = {
            "id": pool_id,
            "name": name,
            "operator": self.operator.address,
            "guardian": guardian or self.operator.address,
            "search_price": search_price,
            "predict_price": predict_price,
            "operator_fee_bps": operator_fee_bps,
            "builder_share_bps": builder_share_bps,
            "labeler_share_bps": labeler_share_bps,
            "labels": sorted(labels),
            "licence": licence,
            "tx_hash": tx.tx_hash,
        }
        self.store.insert_pool(pool)
        return self.store.pool(pool_id)

    # -- the guardian's pause ------------------------------------------------------
    def is_paused(self, pool_id: int) -> bool:
        """Whether the pool's guardian has paused it (read from ``PoolRegistry``).

        Raises:
            NotFound: no such pool on this node.
        """
        self.store.pool(pool_id)
        return bool(self.protocol.is_paused(pool_id))

    def pause(self, pool_id: int) -> str:
        """Pause the pool on-chain, as its guardian (the node's operator key unless the pool
        was created with another guardian). A pause stops anchoring, model registration,
        deposits, epoch roots and new stakes; never revocations, redemptions, withdrawals or
        claims (``PoolRegistry``).

        Returns:
            The transaction hash.

        Raises:
            NotFound: no such pool on this node.
            Forbidden: the pool's guardian is another key (it must send the pause itself).
            Conflict: the pool is already paused.
        """
        self._guard(pool_id, "pause")
        if self.protocol.is_paused(pool_id):
            raise Conflict(f"pool {pool_id} is already paused", pool_id=pool_id)
        tx = self.protocol.pause(pool_id, sender=self.operator)
        self._record_gas("pause", tx)
        return str(tx.tx_hash)

    def unpause(self, pool_id: int) -> str:
        """Lift the pool's pause on-chain, as its guardian.

        Returns:
            The transaction hash.

        Raises:
            NotFound: no such pool on this node.
            Forbidden: the pool's guardian is another key.
            Conflict: the pool is not paused.
        """
        self._guard(pool_id, "unpause")
        if not self.protocol.is_paused(pool_id):
            raise Conflict(f"pool {pool_id} is not paused", pool_id=pool_id)
        tx = self.protocol.unpause(pool_id, sender=self.operator)
        self._record_gas("unpause", tx)
        return str(tx.tx_hash)

    def _guard(self, pool_id: int, action: str) -> None:
        guardian = self.store.pool(pool_id)["guardian"]
        if guardian.lower() != self.operator.address.lower():
            raise Forbidden(
                f"pool {pool_id}'s guardian is {guardian}, not this node's operator "
                f"{self.operator.address}: only the guardian can {action} it, with its own key",
                pool_id=pool_id, guardian=guardian,
            )  # fmt: skip

    # -- changing a pool ----------------------------------------------------------
    def update_pool(
        self, pool_id: int, *, feedback_budget: int | None = None, **fixed: object
    ) -> PoolRow:
        """Change what can change about a pool: today its feedback budget (base units paid to
        raters per epoch, off-chain). Prices, the fee split, the name, labels, licence and
        labeler share are fixed at creation (:data:`FIXED_POOL_TERMS` says why); asking to
        change one is refused, never faked.

        Raises:
            NotFound: no such pool on this node.
            Conflict: a fixed term was given (the first one names the reason).
            SchemaError: an unknown term, a negative budget, or nothing to change.
        """
        pool = self.store.pool(pool_id)
        unknown = sorted(set(fixed) - set(FIXED_POOL_TERMS))
        if unknown:
            raise SchemaError(f"unknown pool terms: {', '.join(unknown)}", terms=unknown)
        for term, value in fixed.items():
            if value is None:
                continue
            raise Conflict(
                f"pool {pool_id}'s {term} cannot change: {FIXED_POOL_TERMS[term]}; create a new "
                "pool with the new terms instead",
                pool_id=pool_id, term=term,
            )  # fmt: skip
        if feedback_budget is None:
            raise SchemaError("nothing to change: give the feedback budget")
        if feedback_budget < 0:
            raise SchemaError("the feedback budget cannot be negative")
        with self.store.transaction():
            self.store.set_feedback_budget(pool_id, feedback_budget)
        return pool

    def anchor(self, pool_id: int) -> list[Receipt]:
        """Anchor every accepted, not yet anchored record of the pool as one Merkle batch."""
        from fairwheel.domain.merkle import StandardMerkleTree

        records = self.store.unanchored(pool_id)
        if not records:
            return []
        leaves = [[r["record_hash"], checksum_address(r["contributor"])] for r in records]
        tree = StandardMerkleTree.of(leaves, list(CONTRIBUTION_LEAF))
        uri = f"fairwheel://pool/{pool_id}/batch"
        tx = self.protocol.anchor_batch(pool_id, tree.root, len(records), uri, sender=self.operator)
        self._record_gas("anchor_batch", tx)
        batch_id = int(tx.value)
        with self.store.transaction():
            self.store.insert_batch(
                {"pool_id": pool_id, "batch_id": batch_id, "root": tree.root_hex,
                 "count": len(records), "uri": uri, "tx_hash": tx.tx_hash}
            )  # fmt: skip
            for i, rec in enumerate(records):
                self.store.set_anchor(rec["id"], batch_id, ["0x" + p.hex() for p in tree.proof(i)])
        return [self.receipt(r["id"]) for r in records]

    def receipt(self, record_id_: int) -> Receipt:
        """The inclusion receipt of an anchored record."""
        rec = self.store.record(record_id_)
        if rec["batch_id"] is None:
            raise Conflict(f"record {record_id_} is not anchored yet (status {rec['status']})")
        batch = self.store.batch(rec["pool_id"], rec["batch_id"])
        return Receipt(
            record_id=record_id_,
            pool_id=rec["pool_id"],
            batch_id=rec["batch_id"],
            record_hash="0x" + rec["record_hash"].hex(),
            contributor=checksum_address(rec["contributor"]),
            root=batch["root"],
            proof=list(rec["proof"] or ()),
            tx_hash=batch["tx_hash"],
            status=rec["status"],
            score=rec["score"],
            reasons=tuple(rec["reasons"]),
        )

    def verify_receipt(self, receipt: Receipt) -> bool:
        """Ask the PoolRegistry contract whether the receipt's proof is valid."""
        return bool(
            self.protocol.is_anchored(
                receipt.pool_id,
                receipt.batch_id,
                bytes.fromhex(receipt.record_hash[2:]),
                receipt.contributor,
                [bytes.fromhex(p[2:]) for p in receipt.proof],
            )
        )

    # -- stats --------------------------------------------------------------
    def pool_stats(self, pool_id: int) -> dict[str, Any]:
        """Counts by status and rejection reason, index size and ledger totals."""
        ledger = self.store.ledger(pool_id)
        return {
            "pool": self.store.pool(pool_id),
            "records": self.store.status_counts(pool_id),
            "rejected_by_reason": self.store.rejection_counts(pool_id),
            "index_size": len(self.index(pool_id)),
            "calls": len(ledger),
            "revenue": sum(int(e["price"]) for e in ledger),
        }


def _check_terms(
    name: str,
    search_price: int,
    predict_price: int,
    operator_fee_bps: int,
    builder_share_bps: int,
    labeler_share_bps: int,
    labels: Sequence[str],
    licence: str,
) -> None:
    """Refuse terms the contract would revert on, or that could never be served, before any
    transaction is sent."""
    if not name.strip():
        raise SchemaError("a pool needs a name", field="name")
    for field, price in (("search_price", search_price), ("predict_price", predict_price)):
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            raise SchemaError(f"{field} must be a whole number of token base units >= 0",
                              field=field)  # fmt: skip
    for field, bps in (("operator_fee_bps", operator_fee_bps),
                       ("builder_share_bps", builder_share_bps),
                       ("labeler_share_bps", labeler_share_bps)):  # fmt: skip
        if isinstance(bps, bool) or not isinstance(bps, int) or not 0 <= bps <= MAX_BPS:
            raise SchemaError(f"{field} must be within 0..{MAX_BPS}", field=field)
    if operator_fee_bps + builder_share_bps > MAX_BPS:
        raise SchemaError(
            f"operator_fee_bps + builder_share_bps is {operator_fee_bps + builder_share_bps}, "
            f"over {MAX_BPS} (the whole price)", field="builder_share_bps",
        )  # fmt: skip
    if any(not str(label).strip() for label in labels) or len(set(labels)) != len(labels):
        raise SchemaError("labels must be distinct and not empty", field="labels")
    if not licence.strip():
        raise SchemaError("a pool needs a licence", field="licence")


def deployment_funding(settings: Settings, address: str) -> dict[str, Any]:
    """What ``address`` (an operator) must hold to start a fresh node on ``settings.chain_url``:
    the gas of the five deployments and a first pool (docs/protocol.md), and its price at the
    chain's current fees when the chain answers.

    Returns:
        ``address``, ``chain_url``, ``gas``, ``gas_reserved`` (what the node's transactions
        reserve: estimate + 20%), and when the chain answers ``chain_id``, ``balance_wei``,
        ``max_fee_per_gas`` and ``estimate_wei`` (``gas_reserved`` at that fee).
    """
    from fairwheel.chain import connect_chain

    gas = DEPLOY_GAS + FIRST_POOL_GAS
    reserved = int(gas * _GAS_LIMIT_MARGIN) + 1
    advice: dict[str, Any] = {"address": checksum_address(address),
                              "chain_url": settings.chain_url, "gas": gas,
                              "gas_reserved": reserved}  # fmt: skip
    try:
        chain = connect_chain(settings.chain_url)
    except Exception:  # the advice stands without the chain's fees
        return advice
    try:
        w3 = chain.w3
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        try:
            tip = int(w3.eth.max_priority_fee)
        except Exception:
            tip = _DEFAULT_TIP
        fee = 2 * base_fee + tip
        advice |= {"chain_id": chain.chain_id, "balance_wei": chain.eth_balance(address),
                   "max_fee_per_gas": fee, "estimate_wei": reserved * fee}  # fmt: skip
    except Exception:
        pass
    finally:
        chain.close()
    return advice
