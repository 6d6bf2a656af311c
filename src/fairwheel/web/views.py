"""The dashboard's public and operator pages: the pool explorer, one pool, and the operator's
pool health, review queue and node health.

The contributor's pages are :mod:`fairwheel.web.contributor`, the consumer's
:mod:`fairwheel.web.consumer`; what they share is :mod:`fairwheel.web.common`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api.context import ApiContext, session_of
from fairwheel.errors import NotFound
from fairwheel.node.queries import reason_code
from fairwheel.web.charts import bar_chart, line_chart
from fairwheel.web.common import HERE, Ctx, render, tokens

__all__ = ["HERE", "router"]

router = APIRouter(include_in_schema=False)
#: Review-queue records listed per pool on the operator page (all: ``GET /v1/pools/{id}/review``).
REVIEW_SHOWN = 50


def _pool_rows(ctx: ApiContext) -> list[dict[str, Any]]:
    rows = []
    with ctx.use() as node:
        for pool in node.queries.pools():
            pid = int(pool["id"])
            stats = uc.pool_stats(node, pid)
            epochs = st.epochs(node, pid)
            verified = None
            if epochs:
                verified = node.verify_epoch(pid, epochs[-1].epoch).ok
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
    """One pool: health, models and their accuracy, epochs and what each paid out."""
    with ctx.use() as node:
        try:
            pool = node.queries.pool(pool_id)
        except NotFound:
            return render(request, ctx, "missing.html", what=f"pool {pool_id}")
        stats = uc.pool_stats(node, pool_id)
        models = st.models(node, pool_id)
        epochs = st.epochs(node, pool_id)
        checks = {e.epoch: node.verify_epoch(pool_id, e.epoch) for e in epochs}
    accuracy = {
        "accuracy": [
            (float(v.version), float(v.metrics["accuracy"]))
            for v in models
            if v.metrics and "accuracy" in v.metrics
        ]
    }
    payouts, previous = [], 0
    for e in epochs:
        payouts.append((f"epoch {e.epoch}", float(tokens(int(e.total) - previous))))
        previous = int(e.total)
    charts = {
        "reasons": bar_chart(
            sorted(stats.rejected_by_reason.items(), key=lambda kv: -kv[1]),
            title="Rejected records by reason",
        ),
        "status": bar_chart(sorted(stats.records.items()), title="Records by status"),
        "accuracy": line_chart(
            accuracy,
            title="Model accuracy over versions",
            x_label="version",
            y_label="hold-out accuracy",
            y_min=0,
            y_max=1,
        ),
        "payouts": bar_chart(payouts, title="Earnings posted per epoch", unit=" FAIR"),
    }
    return render(
        request,
        ctx,
        "pool.html",
        pool=pool,
        stats=stats,
        models=models,
        epochs=epochs,
        checks=checks,
        charts=charts,
    )


@router.get("/operator", response_class=HTMLResponse)
def operator(request: Request, ctx: Ctx) -> HTMLResponse:
    """Operator: the node's health; per pool its records, rejections by reason, index, revenue,
    epochs, model versions and review queue; actions."""
    session = session_of(request, None)
    if session is None or not session.is_operator:
        return render(request, ctx, "operator.html", rows=[], health=None)
    rows = _pool_rows(ctx)
    for row in rows:
        stats = row["stats"]
        pid = int(row["pool"]["id"])
        row["chart"] = bar_chart(
            sorted(stats.rejected_by_reason.items(), key=lambda kv: -kv[1]),
            title="Rejected by reason",
        )
        with ctx.use() as node:
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
    return render(request, ctx, "operator.html", rows=rows, health=health,
                   review_shown=REVIEW_SHOWN)  # fmt: skip
