"""PoolRegistry calls of the protocol client: pools, pauses, batches, revocations, models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fairwheel.chain._token import TokenCalls
from fairwheel.chain.binding import as_bytes32, as_proof, as_signature
from fairwheel.chain.types import ModelInfo, PoolInfo, TxResult
from fairwheel.domain.typed_data import Consent

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

__all__ = ["RegistryCalls"]


class RegistryCalls(TokenCalls):
    """``PoolRegistry``: every write is the pool's operator's, guardian's or contributor's."""

    # ------------------------------------------------------------------- pools

    def create_pool(
        self,
        *,
        sender: LocalAccount,
        guardian: str,
        search_price: int,
        predict_price: int,
        operator_fee_bps: int,
        builder_share_bps: int,
        metadata_hash: bytes,
        token: str | None = None,
    ) -> TxResult:
        """Create a pool operated by ``sender``; ``value`` is the new pool id."""
        args = [
            self._addr(guardian),
            self._addr(token or self.token_address),
            search_price,
            predict_price,
            operator_fee_bps,
            builder_share_bps,
            as_bytes32(metadata_hash, "metadata_hash"),
        ]
        return self._write(
            "PoolRegistry", "createPool", args, sender, self._pick("PoolCreated", "poolId")
        )

    def get_pool(self, pool_id: int) -> PoolInfo:
        """A pool's parameters; ``ChainError(reason="PoolNotFound")`` for unknown ids."""
        p = self._read("PoolRegistry", "getPool", pool_id)
        return PoolInfo(
            pool_id=pool_id,
            operator=p["operator"],
            guardian=p["guardian"],
            token=p["token"],
            search_price=p["searchPrice"],
            predict_price=p["predictPrice"],
            operator_fee_bps=p["operatorFeeBps"],
            builder_share_bps=p["builderShareBps"],
            metadata_hash=p["metadataHash"],
            batch_count=p["batchCount"],
            model_count=p["modelCount"],
        )

    def pool_count(self) -> int:
        """Number of pools created."""
        return int(self._read("PoolRegistry", "poolCount"))

    # ------------------------------------------------------------------- pause

    def pause(self, pool_id: int, *, sender: LocalAccount) -> TxResult:
        """Pause the pool (its guardian only): stops anchoring, model registration, deposits,
        epoch roots and new stakes; never exits (revocations, redemptions, withdrawals,
        claims, unstaking, cancellations, slashes)."""
        return self._write("PoolRegistry", "pause", [pool_id], sender)

    def unpause(self, pool_id: int, *, sender: LocalAccount) -> TxResult:
        """Lift the pool's pause (its guardian only)."""
        return self._write("PoolRegistry", "unpause", [pool_id], sender)

    def is_paused(self, pool_id: int) -> bool:
        """Whether the pool's guardian has paused it."""
        return bool(self._read("PoolRegistry", "isPaused", pool_id))

    # ----------------------------------------------------------------- batches

    def anchor_batch(
        self, pool_id: int, root: bytes, count: int, uri: str, *, sender: LocalAccount
    ) -> TxResult:
        """Anchor a contribution batch root (operator only); ``value`` is the batch id."""
        return self._write(
            "PoolRegistry",
            "anchorBatch",
            [pool_id, as_bytes32(root, "root"), count, uri],
            sender,
            self._pick("BatchAnchored", "batchId"),
        )

    def batch_root(self, pool_id: int, batch_id: int) -> bytes:
        """A batch's root (32 zero bytes if there is no such batch)."""
        return bytes(self._read("PoolRegistry", "batchRoot", pool_id, batch_id))

    def is_anchored(
        self,
        pool_id: int,
        batch_id: int,
        record_id: bytes,
        contributor: str,
        proof: Sequence[bytes | str],
    ) -> bool:
        """Whether ``(record_id, contributor)`` is a leaf of the batch (checked on chain)."""
        return bool(
            self._read(
                "PoolRegistry",
                "isAnchored",
                pool_id,
                batch_id,
                as_bytes32(record_id, "record_id"),
                self._addr(contributor),
                as_proof(proof),
            )
        )

    def revoke(
        self,
        pool_id: int,
        batch_id: int,
        record_id: bytes,
        proof: Sequence[bytes | str],
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Revoke ``sender``'s own anchored record."""
        args = [pool_id, batch_id, as_bytes32(record_id, "record_id"), as_proof(proof)]
        return self._write("PoolRegistry", "revoke", args, sender)

    def revoke_with_sig(
        self,
        pool_id: int,
        batch_id: int,
        record_id: bytes,
        contributor: str,
        proof: Sequence[bytes | str],
        signature: bytes,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Relay a contributor's signed ``Revocation`` (anyone may send it)."""
        args = [
            pool_id,
            batch_id,
            as_bytes32(record_id, "record_id"),
            self._addr(contributor),
            as_proof(proof),
            as_signature(signature),
        ]
        return self._write("PoolRegistry", "revokeWithSig", args, sender)

    def is_revoked(self, pool_id: int, record_id: bytes) -> bool:
        """Whether the record was revoked."""
        return bool(
            self._read("PoolRegistry", "isRevoked", pool_id, as_bytes32(record_id, "record_id"))
        )

    # ------------------------------------------------------------------ models

    def register_model(
        self,
        pool_id: int,
        model_hash: bytes,
        dataset_root: bytes,
        metrics_hash: bytes,
        uri: str,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Register a model (operator only); ``value`` is the model id."""
        args = [
            pool_id,
            as_bytes32(model_hash, "model_hash"),
            as_bytes32(dataset_root, "dataset_root"),
            as_bytes32(metrics_hash, "metrics_hash"),
            uri,
        ]
        return self._write(
            "PoolRegistry", "registerModel", args, sender, self._pick("ModelRegistered", "modelId")
        )

    def get_model(self, pool_id: int, model_id: int) -> ModelInfo:
        """A registered model; ``ChainError(reason="ModelNotFound")`` for unknown ids."""
        m = self._read("PoolRegistry", "model", pool_id, model_id)
        return ModelInfo(
            pool_id=pool_id,
            model_id=model_id,
            model_hash=m["modelHash"],
            dataset_root=m["datasetRoot"],
            metrics_hash=m["metricsHash"],
            registered_at=m["registeredAt"],
            uri=m["uri"],
        )

    def onchain_consent_digest(self, consent: Consent) -> bytes:
        """``PoolRegistry.consentDigest`` (the digest as the contract computes it)."""
        return bytes(
            self._read(
                "PoolRegistry",
                "consentDigest",
                consent.contributor,
                consent.pool_id,
                consent.content_hash,
                consent.licence,
                consent.purposes,
                consent.expiry,
                consent.nonce,
            )
        )
