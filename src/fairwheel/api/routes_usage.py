"""A consumer's usage as files (CSV, Parquet), and dev-mode escrow withdrawals by test wallets.

``GET /v1/me/usage.csv`` and ``GET /v1/me/usage.parquet`` export the caller's paid calls, one
row per call, from the usage ledger: money in token base units (CSV: decimal digits; Parquet:
``decimal128(38, 0)``). The node keeps no query text and no answer text: a row carries the
query's hash and the records the call served.

``routers(dev)`` gives the routers to mount; with ``dev`` it adds the TEST KEY withdrawal
routes the dashboard uses on the embedded chain (no outside wallet can reach it): the server
signs ``UsageEscrow.requestWithdraw`` / ``withdraw`` with the test key and relays them like any
user-signed transaction (``node.onchain.relay``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from fairwheel.api import models as m
from fairwheel.api.context import ApiContext, RequiredSession, get_ctx
from fairwheel.errors import Conflict, NotFound, SchemaError

if TYPE_CHECKING:
    from fairwheel.node import Node
    from fairwheel.node.queries import ConsumerCall

__all__ = ["USAGE_COLUMNS", "dev_router", "router", "routers", "usage_csv", "usage_parquet"]

router = APIRouter(prefix="/v1", tags=["me"])
dev_router = APIRouter(prefix="/v1/dev", tags=["dev (test keys only)"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolFilter = Annotated[int | None, Query(ge=1, le=m.MAX_ID, description="Only this pool.")]
AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]
_BINARY = {"schema": {"type": "string"}}

#: The export's columns, in order. Money columns are token base units.
USAGE_COLUMNS = (
    "seq", "time", "time_utc", "pool", "kind", "price", "voucher_amount", "operator_fee",
    "builder_amount", "contributors_amount", "records_served", "query_hash", "rating_kind",
    "rating", "ledger_hash",
)  # fmt: skip
_MONEY = ("price", "voucher_amount", "operator_fee", "builder_amount", "contributors_amount")
_MAX_DECIMAL = 10**38 - 1  # decimal128(38, 0)


def routers(dev: bool) -> tuple[APIRouter, ...]:
    """The routers to mount: the usage exports, and with ``dev`` the test wallets' withdrawals
    (dev routes exist only in dev mode)."""
    return (router, dev_router) if dev else (router,)


# ------------------------------------------------------------------- exports


def _utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(int(timestamp), UTC)


def _calls(ctx: ApiContext, address: str, pool_id: int | None) -> list[ConsumerCall]:
    with ctx.use() as node:
        if pool_id is not None:
            node.queries.pool(pool_id)  # 404 for an unknown pool
        return node.queries.consumer_calls(address, pool_id)


def usage_csv(calls: Sequence[ConsumerCall]) -> bytes:
    """The calls as CSV (UTF-8, a header row; ``records_served`` is space-separated ids)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USAGE_COLUMNS)
    for c in calls:
        writer.writerow(
            [
                c.seq, c.time, _utc(c.time).isoformat(), c.pool, c.kind, c.price,
                c.voucher_amount, c.operator_fee, c.builder_amount, c.contributors_amount,
                " ".join(str(r) for r in c.records), c.query_hash, c.rating_kind or "",
                "" if c.rating is None else c.rating, c.hash,
            ]
        )  # fmt: skip
    return out.getvalue().encode()


def usage_parquet(calls: Sequence[ConsumerCall]) -> bytes:
    """The calls as Apache Parquet: money as ``decimal128(38, 0)``, ``time_utc`` a UTC
    timestamp, ``records_served`` a list of record ids.

    Raises:
        Conflict: If an amount does not fit 38 decimal digits (no real token supply comes near).
    """
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    money = pa.decimal128(38, 0)
    schema = pa.schema(
        [
            ("seq", pa.int64()), ("time", pa.int64()), ("time_utc", pa.timestamp("s", tz="UTC")),
            ("pool", pa.int64()), ("kind", pa.string()),
            *[(name, money) for name in _MONEY],
            ("records_served", pa.list_(pa.int64())), ("query_hash", pa.string()),
            ("rating_kind", pa.string()), ("rating", pa.int64()), ("ledger_hash", pa.string()),
        ]
    )  # fmt: skip
    for c in calls:
        for name in _MONEY:
            if getattr(c, name) > _MAX_DECIMAL:
                raise Conflict(f"call {c.seq}: {name} does not fit decimal128(38, 0)", seq=c.seq)
    columns: dict[str, list[Any]] = {
        "seq": [c.seq for c in calls],
        "time": [c.time for c in calls],
        "time_utc": [_utc(c.time) for c in calls],
        "pool": [c.pool for c in calls],
        "kind": [c.kind for c in calls],
        **{name: [Decimal(getattr(c, name)) for c in calls] for name in _MONEY},
        "records_served": [list(c.records) for c in calls],
        "query_hash": [c.query_hash for c in calls],
        "rating_kind": [c.rating_kind for c in calls],
        "rating": [c.rating for c in calls],
        "ledger_hash": [c.hash for c in calls],
    }
    table = pa.table(columns, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _attachment(address: str, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="usage-{address.lower()}.{suffix}"'}


@router.get(
    "/me/usage.csv",
    response_class=Response,
    responses={200: {"description": "One row per paid call; money in token base units.",
                     "content": {"text/csv": _BINARY}}},
)  # fmt: skip
def my_usage_csv(ctx: Ctx, session: RequiredSession, pool_id: PoolFilter = None) -> Response:
    """Your paid calls as a consumer, oldest first, as CSV: time, pool, kind, price, fee, what
    reached contributors, the records served, the query's hash (the node keeps no query text)
    and your rating."""
    body = usage_csv(_calls(ctx, session.address, pool_id))
    return Response(
        body, media_type="text/csv; charset=utf-8", headers=_attachment(session.address, "csv")
    )


@router.get(
    "/me/usage.parquet",
    response_class=Response,
    responses={200: {"description": "Apache Parquet, the columns of usage.csv (typed).",
                     "content": {"application/vnd.apache.parquet": _BINARY}}},
)  # fmt: skip
def my_usage_parquet(ctx: Ctx, session: RequiredSession, pool_id: PoolFilter = None) -> Response:
    """Your paid calls as Apache Parquet (the columns of ``usage.csv``, typed)."""
    body = usage_parquet(_calls(ctx, session.address, pool_id))
    return Response(
        body,
        media_type="application/vnd.apache.parquet",
        headers=_attachment(session.address, "parquet"),
    )


# --------------------------------------------------- dev: test wallets withdraw


class WithdrawalIn(m.Model):
    pool_id: m.Id
    amount: m.Amount


class WithdrawIn(m.Model):
    pool_id: m.Id


def _dev_key(ctx: ApiContext, address: str) -> Any:
    key = ctx.dev_wallets.get(address.lower()) if ctx.config.dev else None
    if key is None:
        raise NotFound("not a built-in test wallet: the server signs only for its test keys")
    return key


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _send_as(node: Node, account: Any, signature: str, args: Sequence[int]) -> m.TxView:
    """Sign an escrow call with a TEST key and relay it as any user-signed transaction."""
    from eth_utils import keccak

    facts = node.onchain.account(account.address)
    data = keccak(signature.encode())[:4] + b"".join(_word(a) for a in args)
    tx = {
        "type": 2,
        "chainId": facts.chain_id,
        "nonce": facts.nonce,
        "to": node.onchain.contracts()["UsageEscrow"],
        "data": "0x" + data.hex(),
        "value": 0,
        "gas": 200_000,
        "maxFeePerGas": facts.max_fee_per_gas,
        "maxPriorityFeePerGas": facts.max_priority_fee_per_gas,
    }
    raw = account.sign_transaction(tx).raw_transaction
    receipt = node.onchain.relay("0x" + bytes(raw).hex())
    return m.TxView(tx_hash=receipt.tx_hash, status=receipt.status, gas_used=receipt.gas_used,
                    block_number=receipt.block_number)  # fmt: skip


@dev_router.post("/wallets/{address}/withdrawal", response_model=m.TxView)
def request_withdrawal(ctx: Ctx, address: AddressPath, body: WithdrawalIn) -> m.TxView:
    """Ask to withdraw from the pool's escrow with a TEST wallet (``requestWithdraw``): the
    amount thaws for the escrow's thaw period, then ``…/withdrawal/complete`` pays it out."""
    key = _dev_key(ctx, address)
    amount = int(body.amount)
    if amount <= 0:
        raise SchemaError("amount must be positive")
    with ctx.use() as node:
        balance = node.onchain.escrow_balance(body.pool_id, key.address)
        if amount > balance:
            raise Conflict(f"the escrow holds {balance}, less than {amount}", balance=str(balance))
        return _send_as(node, key.account, "requestWithdraw(uint256,uint256)",
                        [body.pool_id, amount])  # fmt: skip


@dev_router.post("/wallets/{address}/withdrawal/complete", response_model=m.TxView)
def complete_withdrawal(ctx: Ctx, address: AddressPath, body: WithdrawIn) -> m.TxView:
    """Withdraw a thawed request with a TEST wallet (``withdraw``)."""
    key = _dev_key(ctx, address)
    with ctx.use() as node:
        state = node.onchain.escrow(body.pool_id, key.address)
        if state.pending_withdrawal == 0:
            raise Conflict("no withdrawal was requested")
        if node.onchain.now() < state.withdraw_ready_at:
            raise Conflict(
                f"the withdrawal thaws until {state.withdraw_ready_at}",
                ready_at=state.withdraw_ready_at,
            )
        return _send_as(node, key.account, "withdraw(uint256)", [body.pool_id])
