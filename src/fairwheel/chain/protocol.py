"""Typed client of one deployment of the four Fairwheel contracts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fairwheel.chain.artifacts import CONTRACT_NAMES
from fairwheel.chain.binding import Binding, as_bytes32, as_proof, as_signature
from fairwheel.chain.types import ModelInfo, PendingWithdrawal, PoolInfo, RootInfo, TxResult
from fairwheel.domain.typed_data import (
    Consent,
    Eip712Domain,
    Voucher,
    consent_domain,
    voucher_domain,
)
from fairwheel.errors import ConfigError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.chain.client import Chain

__all__ = ["Protocol"]

_ALIASES = {
    "token": "FairToken",
    "registry": "PoolRegistry",
    "escrow": "UsageEscrow",
    "distributor": "RewardDistributor",
}


class Protocol(Binding):
    """The four contracts of one deployment, bound to a :class:`~fairwheel.chain.Chain`.

    Every write signs with ``sender`` (a ``LocalAccount``) and returns a
    :class:`~fairwheel.chain.types.TxResult` whose ``value`` is the function's natural result;
    reverts raise :class:`~fairwheel.errors.ChainError` with ``details["reason"]`` set to the
    custom error's name.
    """

    @classmethod
    def bind(cls, chain: Chain, addresses: dict[str, str]) -> Protocol:
        """Bind to an existing deployment, checking that every address holds code.

        Raises:
            ConfigError: If a contract's address is missing or has no code.
        """
        named = {_ALIASES.get(k, k): v for k, v in addresses.items()}
        missing = [n for n in CONTRACT_NAMES if not named.get(n)]
        if missing:
            raise ConfigError(f"missing contract addresses: {', '.join(missing)}")
        protocol = cls(chain, named)
        for name, address in protocol.addresses.items():
            if not chain.w3.eth.get_code(address):  # type: ignore[arg-type]
                raise ConfigError(f"no contract code at {address} ({name})", contract=name)
        return protocol

    def consent_domain(self) -> Eip712Domain:
        """The EIP-712 domain of consents and revocations for this deployment."""
        return consent_domain(self.chain.chain_id, self.registry_address)

    def voucher_domain(self) -> Eip712Domain:
        """The EIP-712 domain of vouchers for this deployment."""
        return voucher_domain(self.chain.chain_id, self.escrow_address)

    # -------------------------------------------------------------------- token

    def mint(self, to: str, amount: int, *, sender: LocalAccount) -> TxResult:
        """Mint FairToken (``sender`` must be the token's owner, the deployer)."""
        return self._write("FairToken", "mint", [self._addr(to), amount], sender)

    def approve(
        self, spender: str, amount: int, *, sender: LocalAccount, token: str | None = None
    ) -> TxResult:
        """Approve ``spender`` to pull ``amount`` of ``token`` (default FairToken)."""
        return self._write("FairToken", "approve", [self._addr(spender), amount], sender, at=token)

    def token_balance(self, address: str, *, token: str | None = None) -> int:
        """ERC-20 balance of ``address`` in ``token`` (default FairToken)."""
        return int(self._read("FairToken", "balanceOf", self._addr(address), at=token))

    def allowance(self, owner: str, spender: str, *, token: str | None = None) -> int:
        """ERC-20 allowance from ``owner`` to ``spender``."""
        return int(
            self._read("FairToken", "allowance", self._addr(owner), self._addr(spender), at=token)
        )

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

    # ------------------------------------------------------------------ escrow

    def deposit(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Deposit into escrow (approve the escrow first); ``value`` is the amount credited."""
        return self._write(
            "UsageEscrow", "deposit", [pool_id, amount], sender, self._pick("Deposited", "amount")
        )

    def approve_and_deposit(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Approve the escrow for the pool's token, then :meth:`deposit`."""
        token = self.get_pool(pool_id).token
        self.approve(self.escrow_address, amount, sender=sender, token=token)
        return self.deposit(pool_id, amount, sender=sender)

    def escrow_balance(self, pool_id: int, payer: str) -> int:
        """The payer's escrowed balance in the pool."""
        return int(self._read("UsageEscrow", "balanceOf", pool_id, self._addr(payer)))

    def redeemed(self, pool_id: int, payer: str) -> int:
        """Total already redeemed from the payer in the pool."""
        return int(self._read("UsageEscrow", "redeemed", pool_id, self._addr(payer)))

    def redeem(self, voucher: Voucher, signature: bytes, *, sender: LocalAccount) -> TxResult:
        """Redeem a voucher (pool operator only); ``value`` is the amount paid."""
        args = [voucher.payer, voucher.pool_id, voucher.cumulative_amount, as_signature(signature)]
        return self._write("UsageEscrow", "redeem", args, sender, self._pick("Redeemed", "paid"))

    def redeem_many(
        self, items: Sequence[tuple[Voucher, bytes]], *, sender: LocalAccount
    ) -> TxResult:
        """Redeem several vouchers of one pool atomically; ``value`` is the total paid.

        Raises:
            ValueError: If ``items`` is empty or mixes pools.
        """
        if not items:
            raise ValueError("no vouchers to redeem")
        pools = {v.pool_id for v, _ in items}
        if len(pools) != 1:
            raise ValueError("redeem_many takes vouchers of one pool; group them per pool")
        args = [
            pools.pop(),
            [v.payer for v, _ in items],
            [v.cumulative_amount for v, _ in items],
            [as_signature(s) for _, s in items],
        ]
        return self._write("UsageEscrow", "redeemMany", args, sender, self._sum("Redeemed", "paid"))

    def request_withdraw(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Start the thaw of a withdrawal; ``value`` is the ``readyAt`` timestamp."""
        return self._write(
            "UsageEscrow",
            "requestWithdraw",
            [pool_id, amount],
            sender,
            self._pick("WithdrawRequested", "readyAt"),
        )

    def withdraw(self, pool_id: int, *, sender: LocalAccount) -> TxResult:
        """Withdraw a thawed request; ``value`` is the amount paid."""
        return self._write(
            "UsageEscrow", "withdraw", [pool_id], sender, self._pick("Withdrawn", "amount")
        )

    def pending_withdrawal(self, pool_id: int, payer: str) -> PendingWithdrawal:
        """The payer's requested withdrawal (zeros if none)."""
        amount, ready_at = self._read(
            "UsageEscrow", "pendingWithdrawal", pool_id, self._addr(payer)
        )
        return PendingWithdrawal(amount=int(amount), ready_at=int(ready_at))

    def onchain_voucher_digest(self, voucher: Voucher) -> bytes:
        """``UsageEscrow.voucherDigest`` (the digest as the contract computes it)."""
        return bytes(
            self._read(
                "UsageEscrow",
                "voucherDigest",
                voucher.payer,
                voucher.pool_id,
                voucher.cumulative_amount,
            )
        )

    # ------------------------------------------------------------- distributor

    def post_root(
        self,
        pool_id: int,
        epoch: int,
        root: bytes,
        total_cumulative: int,
        epoch_file_hash: bytes,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Post an epoch root (operator only; approve the top-up first).

        ``value`` is the amount pulled from the operator (``totalCumulative - funded``, or 0).
        """
        args = [
            pool_id,
            epoch,
            as_bytes32(root, "root"),
            total_cumulative,
            as_bytes32(epoch_file_hash, "epoch_file_hash"),
        ]
        return self._write(
            "RewardDistributor", "postRoot", args, sender, self._pick("RootPosted", "fundedAmount")
        )

    def approve_and_post_root(
        self,
        pool_id: int,
        epoch: int,
        root: bytes,
        total_cumulative: int,
        epoch_file_hash: bytes,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Approve exactly the top-up the distributor will pull, then :meth:`post_root`."""
        top_up = max(total_cumulative - self.funded(pool_id), 0)
        if top_up:
            token = self.get_pool(pool_id).token
            self.approve(self.distributor_address, top_up, sender=sender, token=token)
        return self.post_root(
            pool_id, epoch, root, total_cumulative, epoch_file_hash, sender=sender
        )

    def cancel_root(self, pool_id: int, epoch: int, *, sender: LocalAccount) -> TxResult:
        """Cancel an epoch root before it activates (guardian only)."""
        return self._write("RewardDistributor", "cancelRoot", [pool_id, epoch], sender)

    def claim(
        self,
        pool_id: int,
        epoch: int,
        account: str,
        cumulative_amount: int,
        proof: Sequence[bytes | str],
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Claim for ``account`` (anyone may send); ``value`` is the amount paid to it."""
        args = [pool_id, epoch, self._addr(account), cumulative_amount, as_proof(proof)]
        return self._write(
            "RewardDistributor", "claim", args, sender, self._pick("Claimed", "paid")
        )

    def claimed(self, pool_id: int, account: str) -> int:
        """Total claimed by ``account`` in the pool."""
        return int(self._read("RewardDistributor", "claimed", pool_id, self._addr(account)))

    def funded(self, pool_id: int) -> int:
        """Total funded to the pool by its operator."""
        return int(self._read("RewardDistributor", "funded", pool_id))

    def total_claimed(self, pool_id: int) -> int:
        """Total claimed from the pool by all accounts."""
        return int(self._read("RewardDistributor", "totalClaimed", pool_id))

    def epoch_root(self, pool_id: int, epoch: int) -> RootInfo:
        """The root posted for an epoch (``exists`` is False if none)."""
        r = self._read("RewardDistributor", "epochRoot", pool_id, epoch)
        return RootInfo(
            pool_id=pool_id,
            epoch=epoch,
            root=r["root"],
            total_cumulative=r["totalCumulative"],
            active_at=r["activeAt"],
            cancelled=r["cancelled"],
            epoch_file_hash=r["epochFileHash"],
        )

    def last_epoch(self, pool_id: int) -> int:
        """The last epoch posted for the pool (0 if none)."""
        return int(self._read("RewardDistributor", "lastEpoch", pool_id))
