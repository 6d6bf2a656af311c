"""The dashboard's public and operator pages: the pool explorer, one pool, and the operator's
pool health, review queue and node health.

The contributor's pages are :mod:`fairwheel.web.contributor`, the consumer's
:mod:`fairwheel.web.consumer`; what they share is :mod:`fairwheel.web.common`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api.context import ApiContext, session_of
from fairwheel.errors import NotFound
from fairwheel.node.queries import reason_code
from fairwheel.node.settlement import Verification
from fairwheel.web.common import HERE, Ctx, render
from fairwheel.web.plots import chain_health, pool_plots

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = ["HERE", "router"]

router = APIRouter(include_in_schema=False)
#: Review-queue records listed per pool on the operator page (all: ``GET /v1/pools/{id}/review``).
REVIEW_SHOWN = 50


def _verified(node: Node, pool_id: int, epoch: int) -> Verification:
    """The epoch's check against the chain; a file this node cannot read fails it (the page
    still renders)."""
    try:
        return node.verify_epoch(pool_id, epoch)
    except OSError as exc:
        why = f"the epoch file cannot be read on this node ({exc.strerror or exc})"
        return Verification(pool_id, epoch, False, "", "", "", "", why)


def _pool_rows(ctx: ApiContext) -> list[dict[str, Any]]:
    rows = []
    with ctx.use() as node:
        for pool in node.queries.pools():
            pid = int(pool["id"])
            stats = uc.pool_stats(node, pid)
            epochs = st.epochs(node, pid)
            verified = None
            if epochs:
                verified = _verified(node, pid, epochs[-1].epoch).ok
            rows.append({"pool": pool, "stats": stats, "epochs": epochs, "verified": verified})
    return rows


@router.get("/", response_class=HTMLResponse)
def explorer(request: Request, ctx: Ctx) -> HTMLResponse:
    """Public pool explorer: pools, prices, models, epochs and their verification."""
    return render(request, ctx, "explorer.html", rows=_pool_rows(ctx))


@router.get("/pools/{pool_id}", response_class=HTMLResponse)
def pool_page(
    request: Request, ctx: Ctx, pool_id: Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID)]
) -> HTMLResponse:
    """One pool: health; earnings, spend, the revenue split, the quality mix and model accuracy
    plotted from the ledger, the chain, the records and the models; models; epochs."""
    with ctx.use() as node:
        try:
            pool = node.queries.pool(pool_id)
        except NotFound:
            return render(request, ctx, "missing.html", what=f"pool {pool_id}")
        stats = uc.pool_stats(node, pool_id)
        models = st.models(node, pool_id)
        epochs = st.epochs(node, pool_id)
        checks = {e.epoch: _verified(node, pool_id, e.epoch) for e in epochs}
        plots = pool_plots(node, pool_id)
    return render(
        request,
        ctx,
        "pool.html",
        pool=pool,
        stats=stats,
        models=models,
        epochs=epochs,
        checks=checks,
        plots=plots,
    )


@router.get("/operator", response_class=HTMLResponse)
def operator(request: Request, ctx: Ctx) -> HTMLResponse:
    """Operator: the node's health and the chain's (block, the operator key's balances, fee
    advice, pending anchors, jobs, epoch closes); per pool its records, plots, index, revenue,
    epochs, model versions and review queue; actions."""
    session = session_of(request, None)
    if session is None or not session.is_operator:
        return render(request, ctx, "operator.html", rows=[], health=None)
    rows = _pool_rows(ctx)
    for row in rows:
        pid = int(row["pool"]["id"])
        with ctx.use() as node:
            row["plots"] = pool_plots(node, pid)
            running = node.queries.open_fold(pid)
            row["open_calls"] = 0 if running is None else int(running["entries"])
            row["unanchored"] = len(node.queries.unanchored(pid))
            feedback = node.queries.feedback(pid)
            row["versions"] = list(reversed(node.model_versions(pid)))
            queue = node.review_queue(pid)
        row["review"] = len(queue)
        row["queue"] = [
            {
                **uc.record_view(r).model_dump(),
                "contributor": r["contributor"],
                "code": reason_code(r["status"], r["reasons"]),
            }
            for r in queue[:REVIEW_SHOWN]
        ]
        ratings = [f["value"] for f in feedback if f["kind"] == "stars"]
        row["rating"] = (sum(ratings) / len(ratings), len(ratings)) if ratings else None
    with ctx.use() as node:
        health = node.health()
        chain = chain_health(node, ctx.operator_address)
    return render(request, ctx, "operator.html", rows=rows, health=health, chain=chain,
                  review_shown=REVIEW_SHOWN)  # fmt: skip
