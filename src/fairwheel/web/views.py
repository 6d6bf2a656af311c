"""The dashboard's pages: server-rendered HTML over the same node and session as the API.

Pages read the session from the dashboard's HttpOnly cookie; every action (login, submit,
revoke, pay, close an epoch) is a call to the JSON API made by ``static/fairwheel.js`` after
the wallet signed what it must.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api.context import ApiContext, get_ctx, session_of
from fairwheel.api.state import Session
from fairwheel.errors import FairwheelError, NotFound
from fairwheel.web.charts import bar_chart, line_chart

HERE = FilePath(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(get_ctx)]


def tokens(units: Any, decimals: int = 18) -> str:
    """Token base units as a short decimal number of tokens (``1500000000000000000`` -> 1.5)."""
    value = Decimal(int(units)) / Decimal(10**decimals)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def chain_time(timestamp: Any) -> str:
    """A chain timestamp as UTC date and time."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.filters["tokens"] = tokens
templates.env.filters["chaintime"] = chain_time
templates.env.filters["short"] = lambda a: f"{a[:6]}…{a[-4:]}" if a and len(a) > 12 else a


def _page_data(ctx: ApiContext, session: Session | None) -> Markup:
    from eth_utils import keccak

    with ctx.use() as node:
        info = st.chain_info(node)
    data = {
        "dev": ctx.config.dev,
        "devWallets": [
            {"name": k.name, "role": k.role, "address": k.address} for k in ctx.dev_wallets.values()
        ],
        "session": None
        if session is None
        else {"address": session.address, "isOperator": session.is_operator},
        "chain": {"chainId": info.chain_id, "embedded": info.embedded, "contracts": info.contracts},
        "selectors": {
            "approve": "0x" + keccak(b"approve(address,uint256)")[:4].hex(),
            "deposit": "0x" + keccak(b"deposit(uint256,uint256)")[:4].hex(),
        },
    }
    # JSON inside <script>: "</" must not end the element.
    return Markup(json.dumps(data).replace("</", "<\\/"))


def _render(request: Request, ctx: ApiContext, name: str, **values: Any) -> HTMLResponse:
    session = session_of(request, None)
    values.update(
        session=session,
        dev=ctx.config.dev,
        page_data=_page_data(ctx, session),
        operator=ctx.operator_address,
    )
    return templates.TemplateResponse(request, name, values)


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
    return _render(request, ctx, "explorer.html", rows=_pool_rows(ctx))


@router.get("/pools/{pool_id}", response_class=HTMLResponse)
def pool_page(
    request: Request, ctx: Ctx, pool_id: Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID)]
) -> HTMLResponse:
    """One pool: health, models and their accuracy, epochs and what each paid out."""
    with ctx.use() as node:
        try:
            pool = node.queries.pool(pool_id)
        except NotFound:
            return _render(request, ctx, "missing.html", what=f"pool {pool_id}")
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
    return _render(
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


@router.get("/contributor", response_class=HTMLResponse)
def contributor(request: Request, ctx: Ctx) -> HTMLResponse:
    """Contributor: submit records; each one's status, score, uses and earnings; claim; revoke."""
    session = session_of(request, None)
    values: dict[str, Any] = {"records": [], "earnings": None, "claims": [], "chart": None,
                              "revocations": {}}  # fmt: skip
    with ctx.use() as node:
        values["pools"] = node.queries.pools()
        if session is not None:
            values["records"] = uc.my_records(node, session.address, None, None)
            revoked = [r.id for r in values["records"] if r.status == "revoked"]
            values["revocations"] = {rid: node.queries.revocation(rid) for rid in revoked}
            earnings = st.earnings(node, session.address)
            values["earnings"] = earnings
            for pe in earnings.pools:
                with contextlib.suppress(FairwheelError):  # nothing in a root yet
                    values["claims"].append(st.claim_proof(node, pe.pool_id, session.address, None))
            now = node.onchain.now()
            values["now"] = now
    if values["earnings"] is not None:
        series = {
            f"pool {pe.pool_id}": [(float(e.epoch), float(tokens(e.cumulative))) for e in pe.epochs]
            for pe in values["earnings"].pools
        }
        values["chart"] = line_chart(
            series,
            title="Your cumulative earnings over epochs",
            x_label="epoch",
            y_label="FAIR",
            y_min=0,
        )
    return _render(request, ctx, "contributor.html", **values)


@router.get("/consumer", response_class=HTMLResponse)
def consumer(request: Request, ctx: Ctx) -> HTMLResponse:
    """Consumer: deposit, balances, try a search or a prediction, spend per call."""
    session = session_of(request, None)
    escrows, calls = [], []
    with ctx.use() as node:
        pools = node.queries.pools()
        if session is not None:
            escrows = [uc.escrow_view(node, int(p["id"]), session.address) for p in pools]
            calls = [
                uc.call_view(e)
                for e in node.queries.ledger()
                if e["consumer"] == session.address.lower()
            ]
    ratings: dict[int, Any] = {}
    if session is not None:
        with ctx.use() as node:
            for c in calls:
                given = node.queries.feedback_of(c.seq, session.address)
                ratings[c.seq] = None if given is None else {"rating": given["value"]}
    return _render(
        request,
        ctx,
        "consumer.html",
        pools=pools,
        escrows=escrows,
        calls=list(reversed(calls)),
        ratings=ratings,
    )


@router.get("/operator", response_class=HTMLResponse)
def operator(request: Request, ctx: Ctx) -> HTMLResponse:
    """Operator: pool health (records, rejections by reason, index, revenue, epochs); actions."""
    session = session_of(request, None)
    rows = _pool_rows(ctx) if session is not None and session.is_operator else []
    for row in rows:
        stats = row["stats"]
        row["chart"] = bar_chart(
            sorted(stats.rejected_by_reason.items(), key=lambda kv: -kv[1]),
            title="Rejected by reason",
        )
        with ctx.use() as node:
            running = node.queries.open_fold(int(row["pool"]["id"]))
            row["open_calls"] = 0 if running is None else int(running["entries"])
            row["unanchored"] = len(node.queries.unanchored(int(row["pool"]["id"])))
            feedback = node.queries.feedback(int(row["pool"]["id"]))
            row["versions"] = list(reversed(node.model_versions(int(row["pool"]["id"]))))
            row["review"] = len(node.review_queue(int(row["pool"]["id"])))
        ratings = [f["value"] for f in feedback if f["kind"] == "stars"]
        row["rating"] = (sum(ratings) / len(ratings), len(ratings)) if ratings else None
    return _render(request, ctx, "operator.html", rows=rows)
