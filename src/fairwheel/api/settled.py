"""API views of settlement and the chain: epochs, claims, earnings, model lineage, accounts.

Built from the node's read models (``node.queries``, ``node.onchain``). Like
:mod:`fairwheel.api.usecases`, everything here runs with the node's lock held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairwheel.api import models as m
from fairwheel.api.usecases import _hex
from fairwheel.domain.records import checksum_address

if TYPE_CHECKING:
    from fairwheel.node import Node


# ---------------------------------------------------------- epochs and claims


def epoch_view(node: Node, pool_id: int, epoch: int) -> m.EpochView:
    row = node.queries.epoch(pool_id, epoch)
    onchain = node.onchain.epoch_root(pool_id, epoch)
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
    node.queries.pool(pool_id)
    count = node.queries.epoch_count(pool_id)
    return [epoch_view(node, pool_id, e) for e in range(1, count + 1)]


def claim_proof(node: Node, pool_id: int, account: str, epoch: int | None) -> m.ClaimProof:
    info = node.claim_proof(pool_id, account, epoch)
    claimed = node.onchain.claimed(pool_id, info["account"])
    active_at = int(node.onchain.epoch_root(pool_id, info["epoch"]).active_at)
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
    for pool in node.queries.pools():
        pid = int(pool["id"])
        series = []
        for e in range(1, node.queries.epoch_count(pid) + 1):
            earned = node.queries.earnings(pid, e).get(account, 0)
            series.append(m.EpochEarning(epoch=e, cumulative=str(earned)))
        open_seqs = {int(e["seq"]) for e in node.queries.open_ledger(pid)}
        open_amount = sum(int(u.amount) for u in uses if u.pool == pid and u.seq in open_seqs)
        cumulative = int(series[-1].cumulative) if series else 0
        if not cumulative and not open_amount:
            continue
        claimed = node.onchain.claimed(pid, checksum_address(account))
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

    node.queries.pool(pool_id)
    count = int(node.onchain.pool_info(pool_id).model_count)
    rows = {int(r["chain_id"]): r for r in node.queries.models(pool_id)}
    out = []
    for version in range(1, count + 1):
        info = node.onchain.model_info(pool_id, version)
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
        chain_id=node.onchain.chain_id,
        embedded=node.onchain.is_embedded,
        now=node.onchain.now(),
        contracts=node.onchain.contracts(),
        consent_domain=node.consent_domain().to_dict(),
        voucher_domain=node.voucher_domain().to_dict(),
        operator=node.operator.address,
        activation_delay=node.settings.activation_delay,
        thaw_period=node.settings.thaw_period,
    )


def account_view(node: Node, address: str) -> m.AccountView:
    facts = node.onchain.account(checksum_address(address))
    return m.AccountView(
        address=facts.address,
        nonce=facts.nonce,
        eth_balance=str(facts.eth_balance),
        token_balance=str(facts.token_balance),
        chain_id=facts.chain_id,
        max_fee_per_gas=str(facts.max_fee_per_gas),
        max_priority_fee_per_gas=str(facts.max_priority_fee_per_gas),
    )


def relay(node: Node, raw_hex: str) -> m.TxView:
    """Relay a transaction the user signed (see :meth:`OnchainService.relay`)."""
    receipt = node.onchain.relay(raw_hex)
    return m.TxView(
        tx_hash=receipt.tx_hash,
        status=receipt.status,
        gas_used=receipt.gas_used,
        block_number=receipt.block_number,
    )
