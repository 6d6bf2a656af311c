"""The consumer's pages: wallet and escrow balances, deposits and withdrawals, a paid call to
try, spend over time, every paid call with what it served and its rating, and the exports.

The node keeps no query text and no answer text (the ledger holds the query's hash; the store
the records a call served): the page shows those, and ``static/fairwheel.js`` adds the query and
the answer this browser kept of the calls it made itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api.context import session_of
from fairwheel.node.queries import ConsumerCall
from fairwheel.web.charts import bar_chart, line_chart
from fairwheel.web.common import PAGE_SIZE, Ctx, page_links, render, tokens

__all__ = ["router", "spend_charts"]

router = APIRouter(include_in_schema=False)
Page = Annotated[int, Query(ge=1, le=m.MAX_ID, description="Page of the calls table.")]


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%m-%d %H:%M")


def spend_charts(calls: list[ConsumerCall]) -> dict[str, Any]:
    """The consumer's spend over time (cumulative, per pool) and per day, in tokens."""
    series: dict[str, list[tuple[float, float]]] = {}
    running: dict[int, int] = {}
    per_day: dict[str, int] = {}
    for c in calls:
        running[c.pool] = running.get(c.pool, 0) + c.price
        series.setdefault(f"pool {c.pool}", []).append(
            (float(c.time), float(tokens(running[c.pool])))
        )
        per_day[_day(c.time)] = per_day.get(_day(c.time), 0) + c.price
    return {
        "spend": line_chart(
            series,
            title="Your spend over time (cumulative)",
            x_label="chain time (UTC)",
            y_label="FAIR",
            y_min=0,
            x_format=_when,
        ),
        "per_day": bar_chart(
            [(day, float(tokens(units))) for day, units in sorted(per_day.items())],
            title="Spend per day",
            unit=" FAIR",
        ),
    }


@router.get("/consumer", response_class=HTMLResponse)
def consumer(request: Request, ctx: Ctx, page: Page = 1) -> HTMLResponse:
    """Consumer: wallet and escrow, deposit and withdraw, try a call, usage and its exports."""
    session = session_of(request, None)
    values: dict[str, Any] = {"escrows": [], "calls": [], "account": None, "charts": None,
                              "links": [], "total": 0, "spent": 0, "now": 0}  # fmt: skip
    with ctx.use() as node:
        pools = node.queries.pools()
        if session is not None:
            values["escrows"] = [uc.escrow_view(node, int(p["id"]), session.address) for p in pools]
            values["account"] = st.account_view(node, session.address)
            calls = node.queries.consumer_calls(session.address)
            values["now"] = node.onchain.now()
            values["thaw"] = node.settings.thaw_period
    if session is not None:
        values["charts"] = spend_charts(calls)
        values["total"] = len(calls)
        values["spent"] = sum(c.price for c in calls)
        pages = max(1, -(-len(calls) // PAGE_SIZE))
        page = min(page, pages)
        newest = list(reversed(calls))
        values["calls"] = newest[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        values["links"] = page_links("/consumer", {}, page, pages) if pages > 1 else []
    return render(request, ctx, "consumer.html", pools=pools, page=page, **values)
