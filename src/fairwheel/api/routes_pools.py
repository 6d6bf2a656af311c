"""Pools, their models, the usage ledger, epochs and claims."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, Response

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api.context import ApiContext, Forbidden, OperatorSession, RequiredSession, get_ctx
from fairwheel.errors import NotFound

router = APIRouter(prefix="/v1", tags=["pools"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Pool id.")]
EpochNo = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Epoch number.")]
AccountPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="An address.")]


@router.get("/pools", response_model=list[m.PoolView])
def list_pools(ctx: Ctx) -> list[m.PoolView]:
    """Every pool this node operates, with its prices and fee split."""
    with ctx.use() as node:
        return [uc.pool_view(p) for p in node.queries.pools()]


@router.post("/pools", response_model=m.PoolView, status_code=201)
def create_pool(ctx: Ctx, body: m.PoolCreate, _: OperatorSession) -> m.PoolView:
    """Create a pool on-chain (operator only); the node's key becomes its operator."""
    with ctx.use() as node:
        pool = node.create_pool(
            body.name,
            search_price=int(body.search_price),
            predict_price=int(body.predict_price),
            operator_fee_bps=body.operator_fee_bps,
            builder_share_bps=body.builder_share_bps,
            labels=body.labels,
            licence=body.licence,
        )
        return uc.pool_view(pool)


@router.get("/pools/{pool_id}", response_model=m.PoolView)
def get_pool(ctx: Ctx, pool_id: PoolId) -> m.PoolView:
    """One pool."""
    with ctx.use() as node:
        return uc.pool_view(node.queries.pool(pool_id))


@router.get("/pools/{pool_id}/stats", response_model=m.PoolStats)
def get_pool_stats(ctx: Ctx, pool_id: PoolId) -> m.PoolStats:
    """Records by status and rejection reason, index size, calls, revenue, epochs, models."""
    with ctx.use() as node:
        return uc.pool_stats(node, pool_id)


@router.post("/pools/{pool_id}/anchor", response_model=m.AnchorOut)
def anchor(ctx: Ctx, pool_id: PoolId, _: OperatorSession) -> m.AnchorOut:
    """Anchor every accepted, not yet anchored record as one Merkle batch (operator only)."""
    with ctx.use() as node:
        receipts = node.anchor(pool_id)
    if not receipts:
        return m.AnchorOut(pool_id=pool_id, anchored=0, batch_id=None, root=None, tx_hash=None)
    first = receipts[0]
    return m.AnchorOut(
        pool_id=pool_id,
        anchored=len(receipts),
        batch_id=first.batch_id,
        root=first.root,
        tx_hash=first.tx_hash,
    )


# ---------------------------------------------------------------------- models


@router.get("/pools/{pool_id}/models", response_model=list[m.ModelView], tags=["models"])
def list_models(ctx: Ctx, pool_id: PoolId) -> list[m.ModelView]:
    """The pool's models, oldest first: hashes, dataset roots and metrics (the lineage)."""
    with ctx.use() as node:
        return st.models(node, pool_id)


@router.post(
    "/pools/{pool_id}/models", response_model=m.ModelView, status_code=201, tags=["models"]
)
def train(ctx: Ctx, pool_id: PoolId, body: m.TrainIn, session: OperatorSession) -> m.ModelView:
    """Train the pool's model on its consented records and register it (operator only)."""
    with ctx.use() as node:
        node.train(pool_id, body.builder or session.address)
        return st.models(node, pool_id)[-1]


# ---------------------------------------------------------------------- ledger


@router.get("/pools/{pool_id}/calls", response_model=list[m.CallView], tags=["ledger"])
def list_calls(
    ctx: Ctx,
    pool_id: PoolId,
    after: Annotated[int, Query(ge=0, le=m.MAX_ID, description="Only seq > after.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[m.CallView]:
    """The pool's usage ledger: every paid call, its price and where the money went."""
    with ctx.use() as node:
        node.queries.pool(pool_id)
        entries = node.queries.ledger(pool_id, after=after)[:limit]
    return [uc.call_view(e) for e in entries]


@router.get("/calls/{seq}", response_model=m.CallView, tags=["ledger"])
def get_call(ctx: Ctx, seq: Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID)]) -> m.CallView:
    """One ledger entry by its sequence number."""
    with ctx.use() as node:
        return uc.call_view(node.queries.ledger_entry(seq))


# ---------------------------------------------------------------------- epochs


@router.get("/pools/{pool_id}/epochs", response_model=list[m.EpochView], tags=["epochs"])
def list_epochs(ctx: Ctx, pool_id: PoolId) -> list[m.EpochView]:
    """Closed epochs with their roots and on-chain status (activation time, cancelled)."""
    with ctx.use() as node:
        return st.epochs(node, pool_id)


@router.post("/pools/{pool_id}/epochs", response_model=m.EpochReportView, tags=["epochs"])
def close_epoch(ctx: Ctx, pool_id: PoolId, _: OperatorSession) -> m.EpochReportView:
    """Close the open epoch (operator only): redeem vouchers, fold the ledger, post the root.

    Safe to retry: a close interrupted after posting adopts the posted root.
    """
    with ctx.use() as node:
        r = node.close_epoch(pool_id)
    return m.EpochReportView(
        pool_id=r.pool_id,
        epoch=r.epoch,
        root=r.root,
        total=str(r.total),
        paid=str(r.paid),
        fees=str(r.fees),
        dust=str(r.dust),
        redeemed=str(r.redeemed),
        file_hash=r.file_hash,
        tx_hash=r.tx_hash,
        entries=r.entries,
        debts={payer: str(owed) for payer, owed in r.debts.items()},
        withheld=str(r.withheld),
        warnings=list(r.warnings),
        posted=r.posted,
    )


@router.get("/pools/{pool_id}/epochs/{epoch}", response_model=m.EpochView, tags=["epochs"])
def get_epoch(ctx: Ctx, pool_id: PoolId, epoch: EpochNo) -> m.EpochView:
    """One closed epoch."""
    with ctx.use() as node:
        return st.epoch_view(node, pool_id, epoch)


@router.get(
    "/pools/{pool_id}/epochs/{epoch}/file",
    response_class=Response,
    tags=["epochs"],
    responses={
        200: {
            "description": "The published epoch file (fairwheel-epoch-v2, JSON Lines).",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
def epoch_file(ctx: Ctx, pool_id: PoolId, epoch: EpochNo) -> Response:
    """The published epoch file: anyone can recompute the root from it (see settlement.md)."""
    with ctx.use() as node:
        path = FilePath(node.queries.epoch(pool_id, epoch)["file_path"])
    if not path.is_file():
        raise NotFound(f"the file of epoch {epoch} is missing on this node")
    return FileResponse(path, media_type="application/x-ndjson", filename=path.name)


@router.get(
    "/pools/{pool_id}/epochs/{epoch}/verification",
    response_model=m.VerificationView,
    tags=["epochs"],
)
def verify_epoch(ctx: Ctx, pool_id: PoolId, epoch: EpochNo) -> m.VerificationView:
    """Recompute the epoch from its published file and compare with the chain."""
    with ctx.use() as node:
        node.queries.epoch(pool_id, epoch)
        v = node.verify_epoch(pool_id, epoch)
    return m.VerificationView(**v.__dict__)


@router.get("/pools/{pool_id}/claims/{account}", response_model=m.ClaimProof, tags=["epochs"])
def get_claim_proof(
    ctx: Ctx,
    pool_id: PoolId,
    account: AccountPath,
    epoch: Annotated[int | None, Query(ge=1, le=m.MAX_ID)] = None,
) -> m.ClaimProof:
    """The leaf and Merkle proof an account claims with (latest epoch by default)."""
    with ctx.use() as node:
        node.queries.pool(pool_id)
        return st.claim_proof(node, pool_id, account, epoch)


@router.post("/pools/{pool_id}/claims/{account}", response_model=m.ClaimOut, tags=["epochs"])
def claim(
    ctx: Ctx,
    pool_id: PoolId,
    account: AccountPath,
    session: RequiredSession,
    epoch: Annotated[int | None, Query(ge=1, le=m.MAX_ID)] = None,
) -> m.ClaimOut:
    """Claim on-chain, sent by the node's key and paid to ``account``.

    Only the account itself or the operator may ask (anyone could claim on-chain directly).
    """
    if session.address.lower() != account.lower() and not session.is_operator:
        raise Forbidden("you may claim only your own earnings")
    with ctx.use() as node:
        node.queries.pool(pool_id)
        info = node.claim_proof(pool_id, account, epoch)
        paid = node.claim(pool_id, account, sender=node.operator, epoch=info["epoch"])
    return m.ClaimOut(pool_id=pool_id, account=info["account"], epoch=info["epoch"], paid=str(paid))
