"""What the chain says, for the edges: contract facts, escrows, claims, accounts, and the relay
of transactions users signed themselves.

The edges (API, dashboard, CLI, simulator) ask this service rather than the chain or protocol
ports, so what they show goes through one place that a cache or an indexer can serve later.
Money is ``int`` in token base units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairwheel.errors import SchemaError
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.chain.types import ModelInfo, PoolInfo, RootInfo
    from fairwheel.node.ledger import LedgerService
    from fairwheel.node.ports import NodePorts

__all__ = ["AccountFacts", "EscrowState", "OnchainService", "RelayReceipt"]

# A fixed tip keeps the fee advice simple on the local and test chains the node runs on.
_TIP = 10**9


@dataclass(frozen=True)
class EscrowState:
    """A payer's escrow in one pool, with what the node's ledger says they spent."""

    balance: int
    redeemed: int
    spent: int
    pending_withdrawal: int
    withdraw_ready_at: int

    @property
    def unredeemed(self) -> int:
        """Served but not yet redeemed on-chain."""
        return max(0, self.spent - self.redeemed)

    @property
    def available(self) -> int:
        """What the escrow still covers beyond the unredeemed calls."""
        return max(0, self.balance - self.unredeemed)


@dataclass(frozen=True)
class AccountFacts:
    """What a wallet needs to sign its own transaction for this chain."""

    address: str
    nonce: int
    eth_balance: int
    token_balance: int
    chain_id: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class RelayReceipt:
    """The mined receipt of a relayed transaction."""

    tx_hash: str
    status: int
    gas_used: int
    block_number: int


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value)


class OnchainService(Service):
    """Read the chain for the edges, and relay users' own signed transactions."""

    def __init__(self, ports: NodePorts, ledger: LedgerService) -> None:
        super().__init__(ports)
        self.ledger = ledger

    # -- the chain and the deployment ------------------------------------------
    @property
    def chain_id(self) -> int:
        """The chain the node settles on."""
        return self.chain.chain_id

    @property
    def is_embedded(self) -> bool:
        """Whether the chain lives inside this process (tests, throwaway demos)."""
        return bool(self.chain.is_embedded)

    @property
    def rpc_url(self) -> str | None:
        """Where other processes (the workers of ``serve --workers N``) reach this chain;
        None for the embedded chain."""
        return self.chain.rpc_url

    def now(self) -> int:
        """The chain's clock (the latest block's timestamp), in seconds."""
        return self.chain.now()

    def contracts(self) -> dict[str, str]:
        """The deployment's contract addresses by name."""
        return dict(self.protocol.addresses)

    # -- pools, models, epochs ---------------------------------------------------
    def pool_info(self, pool_id: int) -> PoolInfo:
        """The pool as ``PoolRegistry`` records it (owner, model count …)."""
        return self.protocol.get_pool(pool_id)

    def model_info(self, pool_id: int, version: int) -> ModelInfo:
        """One registered model version: hashes, dataset root, URI, time."""
        return self.protocol.get_model(pool_id, version)

    def epoch_root(self, pool_id: int, epoch: int) -> RootInfo:
        """The root ``RewardDistributor`` holds for an epoch, with its activation time."""
        return self.protocol.epoch_root(pool_id, epoch)

    def claimed(self, pool_id: int, account: str) -> int:
        """What ``account`` has claimed from the pool so far."""
        return int(self.protocol.claimed(pool_id, account))

    def funded(self, pool_id: int) -> int:
        """What the pool's epochs have funded into the distributor in all."""
        return int(self.protocol.funded(pool_id))

    def total_claimed(self, pool_id: int) -> int:
        """What every beneficiary of the pool has claimed in all."""
        return int(self.protocol.total_claimed(pool_id))

    def redeemed(self, pool_id: int, payer: str) -> int:
        """What the node has redeemed of ``payer``'s vouchers on-chain."""
        return int(self.protocol.redeemed(pool_id, payer))

    def escrow_balance(self, pool_id: int, payer: str) -> int:
        """What ``payer`` holds in the pool's escrow (one contract read)."""
        return int(self.protocol.escrow_balance(pool_id, payer))

    def token_balance(self, address: str) -> int:
        """The address's balance of the settlement token."""
        return int(self.protocol.token_balance(address))

    def escrow(self, pool_id: int, payer: str) -> EscrowState:
        """The payer's escrow in the pool, read from the contract, with the ledger's spend."""
        self.store.pool(pool_id)  # NotFound for an unknown pool, before any chain call
        pending = self.protocol.pending_withdrawal(pool_id, payer)
        return EscrowState(
            balance=int(self.protocol.escrow_balance(pool_id, payer)),
            redeemed=int(self.protocol.redeemed(pool_id, payer)),
            spent=self.ledger.spent(pool_id, payer),
            pending_withdrawal=int(pending.amount),
            withdraw_ready_at=int(pending.ready_at),
        )

    def account(self, address: str) -> AccountFacts:
        """Nonce, balances and fee advice for a wallet that signs its own transaction."""
        from eth_utils import to_checksum_address

        checksum = to_checksum_address(address)
        w3 = self.chain.w3
        base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        return AccountFacts(
            address=checksum,
            nonce=int(w3.eth.get_transaction_count(checksum, "pending")),
            eth_balance=int(self.chain.eth_balance(checksum)),
            token_balance=int(self.protocol.token_balance(checksum)),
            chain_id=self.chain.chain_id,
            max_fee_per_gas=2 * base_fee + _TIP,
            max_priority_fee_per_gas=_TIP,
        )

    # -- relaying ----------------------------------------------------------------
    def relay(self, raw_hex: str) -> RelayReceipt:
        """Send a transaction the user signed (deposit, withdraw, claim…) to the node's chain.

        Only typed (EIP-2718) transactions to this deployment's contracts on this chain are
        relayed: the node is not an open relay. On the embedded chain this is the only way in.

        Raises:
            SchemaError: If the bytes are not such a transaction.
            ChainError: If the chain refuses it or it reverts (with the decoded reason).
        """
        from eth_account.typed_transactions import TypedTransaction
        from hexbytes import HexBytes

        try:
            raw = bytes.fromhex(raw_hex[2:])
            tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        except Exception as exc:  # rlp and eth_account raise many kinds
            raise SchemaError(f"not a signed typed transaction: {exc}") from None
        names = {a.lower(): n for n, a in self.protocol.addresses.items()}
        to_hex = _hex(tx.get("to") or "").lower()
        if to_hex not in names:
            raise SchemaError("only transactions to this deployment's contracts are relayed")
        if int(tx.get("chainId", -1)) != self.chain.chain_id:
            raise SchemaError(
                f"transaction is for chain {tx.get('chainId')}, not {self.chain.chain_id}"
            )
        receipt = self.chain.send_raw(raw, f"relayed transaction to {names[to_hex]}")
        return RelayReceipt(
            tx_hash=_hex(receipt["transactionHash"]),
            status=int(receipt["status"]),
            gas_used=int(receipt["gasUsed"]),
            block_number=int(receipt["blockNumber"]),
        )
