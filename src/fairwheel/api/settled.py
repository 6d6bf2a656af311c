"""Read models of settlement and the chain: epochs, claims, earnings, model lineage, accounts.

Like :mod:`fairwheel.api.usecases`, everything here runs with the node's lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairwheel.api import models as m
from fairwheel.api.usecases import _hex
from fairwheel.domain.records import checksum_address
from fairwheel.errors import SchemaError

if TYPE_CHECKING:
    from fairwheel.node import Node


# ---------------------------------------------------------- epochs and claims


def epoch_view(node: Node, pool_id: int, epoch: int) -> m.EpochView:
    row = node.store.epoch(pool_id, epoch)
    onchain = node.protocol.epoch_root(pool_id, epoch)
    return m.EpochView(
        pool_id=pool_id,
        epoch=epoch,
        root=row["root"],
        total=str(row["total"]),
        dust=str(row["dust"]),
        file_hash=row["file_hash"],
        tx_hash=row["tx_hash"],
        closed_at=float(row["closed_at"]),
        active_at=int(onchain.active_at),
        cancelled=bool(onchain.cancelled),
    )


def epochs(node: Node, pool_id: int) -> list[m.EpochView]:
    node.store.pool(pool_id)
    last = node.store.last_epoch(pool_id)
    count = 0 if last is None else int(last["epoch"])
    return [epoch_view(node, pool_id, e) for e in range(1, count + 1)]


def claim_proof(node: Node, pool_id: int, account: str, epoch: int | None) -> m.ClaimProof:
    info = node.claim_proof(pool_id, account, epoch)
    claimed = int(node.protocol.claimed(pool_id, info["account"]))
    active_at = int(node.protocol.epoch_root(pool_id, info["epoch"]).active_at)
    return m.ClaimProof(
        pool=pool_id,
        epoch=info["epoch"],
        account=info["account"],
        cumulative=str(info["cumulative"]),
        proof=info["proof"],
        claimed=str(claimed),
        claimable=str(max(0, int(info["cumulative"]) - claimed)),
        active_at=active_at,
    )


def earnings(node: Node, account: str) -> m.EarningsView:
    """Every paid use that earned ``account`` something, and its earnings per pool and epoch."""
    account = account.lower()
    uses = [
        m.Use(seq=u["seq"], time=u["time"], pool=u["pool"], kind=u["kind"],
              amount=str(u["amount"]), records=u["records"])
        for u in node.earnings_of(account)
    ]  # fmt: skip
    pools = []
    for pool in node.store.pools():
        pid = int(pool["id"])
        last = node.store.last_epoch(pid)
        series = []
        for e in range(1, (0 if last is None else int(last["epoch"])) + 1):
            series.append(
                m.EpochEarning(epoch=e, cumulative=str(node.store.earnings(pid, e).get(account, 0)))
            )
        open_seqs = {int(e["seq"]) for e in node.store.open_ledger(pid)}
        open_amount = sum(int(u.amount) for u in uses if u.pool == pid and u.seq in open_seqs)
        cumulative = int(series[-1].cumulative) if series else 0
        if not cumulative and not open_amount:
            continue
        claimed = int(node.protocol.claimed(pid, checksum_address(account)))
        pools.append(
            m.PoolEarnings(
                pool_id=pid,
                open=str(open_amount),
                cumulative=str(cumulative),
                claimed=str(claimed),
                epochs=series,
            )
        )
    total = sum(int(u.amount) for u in uses)
    return m.EarningsView(
        account=checksum_address(account), total=str(total), pools=pools, uses=uses
    )


# ---------------------------------------------------------------------- models


def models(node: Node, pool_id: int) -> list[m.ModelView]:
    """Every model registered for the pool, oldest first, from the chain (the lineage).

    The store's row adds the builder, the metrics and the transaction of each version.
    """
    import json

    node.store.pool(pool_id)
    count = int(node.protocol.get_pool(pool_id).model_count)
    rows = {int(r["chain_id"]): r for r in node.store.models(pool_id)}
    out = []
    for version in range(1, count + 1):
        info = node.protocol.get_model(pool_id, version)
        row = rows.get(version)
        metrics = None if row is None else row["metrics"]
        if isinstance(metrics, str):
            metrics = json.loads(metrics)
        out.append(
            m.ModelView(
                pool_id=pool_id,
                version=version,
                model_hash=_hex(info.model_hash),
                dataset_root=_hex(info.dataset_root),
                metrics_hash=_hex(info.metrics_hash),
                registered_at=int(info.registered_at),
                uri=info.uri,
                builder=None if row is None else row["builder"],
                metrics=metrics,
                tx_hash=None if row is None else row["tx_hash"],
            )
        )
    return out


# ------------------------------------------------------------------------ chain


def chain_info(node: Node) -> m.ChainInfo:
    return m.ChainInfo(
        chain_id=node.chain.chain_id,
        embedded=bool(node.chain.is_embedded),
        now=node.chain.now(),
        contracts=dict(node.protocol.addresses),
        consent_domain=node.consent_domain().to_dict(),
        voucher_domain=node.voucher_domain().to_dict(),
        operator=node.operator.address,
        activation_delay=node.settings.activation_delay,
        thaw_period=node.settings.thaw_period,
    )


def account_view(node: Node, address: str) -> m.AccountView:
    w3 = node.chain.w3
    from eth_utils import to_checksum_address

    checksum = checksum_address(address)
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    tip = 10**9
    return m.AccountView(
        address=checksum,
        nonce=int(w3.eth.get_transaction_count(to_checksum_address(checksum), "pending")),
        eth_balance=str(node.chain.eth_balance(checksum)),
        token_balance=str(node.protocol.token_balance(checksum)),
        chain_id=node.chain.chain_id,
        max_fee_per_gas=str(2 * base_fee + tip),
        max_priority_fee_per_gas=str(tip),
    )


def relay(node: Node, raw_hex: str) -> m.TxView:
    """Send a transaction the user signed (deposit, withdraw, claim…) to the node's chain.

    Only typed (EIP-2718) transactions to this deployment's contracts on this chain are
    relayed: the node is not an open relay. On the embedded chain this is the only way in.

    Raises:
        SchemaError: If the bytes are not such a transaction.
        ChainError: If the chain refuses it or it reverts.
    """
    from eth_account.typed_transactions import TypedTransaction
    from hexbytes import HexBytes

    try:
        raw = bytes.fromhex(raw_hex[2:])
        tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    except Exception as exc:  # rlp and eth_account raise many kinds
        raise SchemaError(f"not a signed typed transaction: {exc}") from None
    to = tx.get("to")
    allowed = {a.lower() for a in node.protocol.addresses.values()}
    to_hex = _hex(to) if isinstance(to, bytes | bytearray) else str(to or "")
    if to_hex.lower() not in allowed:
        raise SchemaError("only transactions to this deployment's contracts are relayed")
    if int(tx.get("chainId", -1)) != node.chain.chain_id:
        raise SchemaError(
            f"transaction is for chain {tx.get('chainId')}, not {node.chain.chain_id}"
        )
    # A revert is a 409 chain_error with the decoded reason, never a 200 with status 0.
    names = {a.lower(): n for n, a in node.protocol.addresses.items()}
    receipt = node.chain.send_raw(raw, f"relayed transaction to {names[to_hex.lower()]}")
    return m.TxView(
        tx_hash=_hex(receipt["transactionHash"]),
        status=int(receipt["status"]),
        gas_used=int(receipt["gasUsed"]),
        block_number=int(receipt["blockNumber"]),
    )
