"""Quality review: the quarantine queue, reviewers' decisions, rescoring, reputations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from fairwheel.api import models as m
from fairwheel.api import usecases as uc
from fairwheel.api.context import ApiContext, OperatorSession, get_ctx

router = APIRouter(prefix="/v1", tags=["quality"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Pool id.")]
RecordId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Record id.")]
AccountPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="An address.")]


@router.get("/pools/{pool_id}/review", response_model=list[m.RecordView])
def review_queue(ctx: Ctx, pool_id: PoolId, _: OperatorSession) -> list[m.RecordView]:
    """Quarantined records, oldest first, with the reasons that sent them there (operator)."""
    with ctx.use() as node:
        node.queries.pool(pool_id)  # 404 for an unknown pool
        return [uc.record_view(r) for r in node.review_queue(pool_id)]


@router.post("/records/{record_id}/review", response_model=m.StatusChangeView)
def review_record(
    ctx: Ctx, record_id: RecordId, body: m.ReviewIn, _: OperatorSession
) -> m.StatusChangeView:
    """Release (accept) or quarantine a record; rescoring then keeps the decision (operator)."""
    with ctx.use() as node:
        change = node.review(record_id, release=body.decision == "release", note=body.note)
    return m.StatusChangeView(**{**change.__dict__, "reasons": list(change.reasons)})


@router.post("/pools/{pool_id}/rescore", response_model=list[m.StatusChangeView])
def rescore(ctx: Ctx, pool_id: PoolId, _: OperatorSession) -> list[m.StatusChangeView]:
    """Judge every accepted and quarantined record again now; returns the status changes."""
    with ctx.use() as node:
        node.queries.pool(pool_id)
        changes = node.rescore(pool_id)
    return [m.StatusChangeView(**{**c.__dict__, "reasons": list(c.reasons)}) for c in changes]


@router.get("/pools/{pool_id}/reputation/{account}", response_model=m.ReputationView)
def reputation(ctx: Ctx, pool_id: PoolId, account: AccountPath) -> m.ReputationView:
    """A contributor's standing: judged submissions, bad and near-duplicate shares, flag and
    the evidence kept for a slash proposal."""
    with ctx.use() as node:
        node.queries.pool(pool_id)
        return m.ReputationView(**node.reputation(pool_id, account))
