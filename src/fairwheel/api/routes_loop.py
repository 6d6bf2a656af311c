"""The loop: model versions (promotion, rollback), revocation status, rater pay, exports."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from fairwheel.api import models as m
from fairwheel.api import usecases as uc
from fairwheel.api.context import ApiContext, OperatorSession, RequiredSession, get_ctx

router = APIRouter(prefix="/v1", tags=["loop"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Pool id.")]
Id = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID)]
_BINARY = {"schema": {"type": "string"}}


@router.get("/pools/{pool_id}/versions", response_model=list[m.VersionView], tags=["models"])
def versions(ctx: Ctx, pool_id: PoolId) -> list[m.VersionView]:
    """Every model version: metrics, promotion report, serving state, arena record, and the
    revoked records it was trained on."""
    with ctx.use() as node:
        node.queries.pool(pool_id)
        return [m.VersionView(**v) for v in node.model_versions(pool_id)]


@router.post("/pools/{pool_id}/versions/rollback", response_model=m.VersionView, tags=["models"])
def rollback(ctx: Ctx, pool_id: PoolId, _: OperatorSession) -> m.VersionView:
    """Serve the previously promoted version again (operator)."""
    with ctx.use() as node:
        back = node.rollback(pool_id)
        return next(
            m.VersionView(**v) for v in node.model_versions(pool_id) if v["id"] == back["id"]
        )


@router.post(
    "/pools/{pool_id}/versions/{model_id}/promote", response_model=m.VersionView, tags=["models"]
)
def promote(ctx: Ctx, pool_id: PoolId, model_id: Id, _: OperatorSession) -> m.VersionView:
    """Serve a kept version despite its report (operator)."""
    with ctx.use() as node:
        node.promote(pool_id, model_id)
        return _version(node, pool_id, model_id)


@router.post("/pools/{pool_id}/upkeep", response_model=m.UpkeepView, tags=["models"])
def upkeep(ctx: Ctx, pool_id: PoolId, session: OperatorSession) -> m.UpkeepView:
    """Retrain if new data, feedback drift or a revocation calls for it (operator)."""
    with ctx.use() as node:
        trigger = node.retrain_trigger(pool_id)
        new = node.upkeep(pool_id, session.address) if trigger else None
    return m.UpkeepView(trigger=trigger, model_id=None if new is None else int(new["id"]),
                        promoted=None if new is None else bool(new["promoted"]))  # fmt: skip


@router.get("/contributions/{record_id}/revocation-status", response_model=m.RevocationStatus)
def revocation_status(ctx: Ctx, record_id: Id, session: RequiredSession) -> m.RevocationStatus:
    """Each step of your record's revocation: on-chain, unserved, key destroyed, models marked,
    retrained."""
    with ctx.use() as node:
        uc.own_record(node, record_id, session.address)
        return m.RevocationStatus(**node.revocation_status(record_id))


@router.get("/me/export", tags=["me"])
def my_export(ctx: Ctx, session: RequiredSession) -> list[dict[str, Any]]:
    """Everything you contributed that the node still holds, decrypted (download it before
    revoking: a revoked record's content key is destroyed)."""
    with ctx.use() as node:
        return node.export_contributions(session.address)


@router.post("/calls/{seq}/gold", status_code=204, response_class=Response, tags=["feedback"])
def set_gold(ctx: Ctx, seq: Id, body: m.GoldIn, _: OperatorSession) -> Response:
    """Mark the right rating of a call the operator can judge (a hidden gold question)."""
    with ctx.use() as node:
        node.set_gold(seq, body.good)
    return Response(status_code=204)


@router.put("/pools/{pool_id}/feedback-budget", response_model=m.BudgetView, tags=["feedback"])
def set_budget(ctx: Ctx, pool_id: PoolId, body: m.BudgetIn, _: OperatorSession) -> m.BudgetView:
    """Base units paid to raters per epoch, from the operator's escrow (operator)."""
    with ctx.use() as node:
        node.set_feedback_budget(pool_id, int(body.per_epoch))
        per_epoch, dust = node.queries.feedback_budget(pool_id)
    return m.BudgetView(pool_id=pool_id, per_epoch=str(per_epoch), dust=str(dust))


@router.post("/pools/{pool_id}/raters/pay", response_model=m.RaterPayView, tags=["feedback"])
def pay(ctx: Ctx, pool_id: PoolId, _: OperatorSession) -> m.RaterPayView:
    """Judge the raters since the last payment and pay them through the ledger (operator)."""
    with ctx.use() as node:
        out = node.pay_raters(pool_id)
    return m.RaterPayView(
        paid=[m.Share(account=a, amount=str(v)) for a, v in sorted(out["paid"].items())],
        dust=str(out["dust"]), spammy=out["spammy"], ratings=out["ratings"],
    )  # fmt: skip


@router.get(
    "/pools/{pool_id}/exports/training.parquet",
    tags=["exports"],
    response_class=Response,
    responses={200: {"description": "Apache Parquet with provenance columns.",
                     "content": {"application/vnd.apache.parquet": _BINARY}}},
)  # fmt: skip
def export_training(ctx: Ctx, pool_id: PoolId, _: RequiredSession) -> Response:
    """The consented, licence-permitting training set with provenance columns (Parquet)."""
    return _file(ctx, pool_id, "training.parquet", "application/vnd.apache.parquet")


@router.get(
    "/pools/{pool_id}/exports/preferences.jsonl",
    tags=["exports"],
    response_class=Response,
    responses={200: {"description": "Preference pairs, one JSON object per line.",
                     "content": {"application/x-ndjson": _BINARY}}},
)  # fmt: skip
def export_preferences(ctx: Ctx, pool_id: PoolId, _: RequiredSession) -> Response:
    """Arena votes as preference pairs (``prompt, chosen, rejected`` + provenance), JSONL."""
    return _file(ctx, pool_id, "preferences.jsonl", "application/x-ndjson")


def _version(node: Any, pool_id: int, model_id: int) -> m.VersionView:
    return next(m.VersionView(**v) for v in node.model_versions(pool_id) if v["id"] == model_id)


def _file(ctx: ApiContext, pool_id: int, name: str, media: str) -> Response:
    with tempfile.TemporaryDirectory() as tmp, ctx.use() as node:
        node.queries.pool(pool_id)
        path = FilePath(tmp) / name
        if name.endswith(".parquet"):
            node.export_training(pool_id, path)
        else:
            node.export_preferences(pool_id, path)
        body = path.read_bytes()
    headers = {"Content-Disposition": f'attachment; filename="pool-{pool_id}-{name}"'}
    return Response(body, media_type=media, headers=headers)
