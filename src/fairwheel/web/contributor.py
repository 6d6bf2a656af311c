"""The contributor's pages: a pool's terms before an upload, the upload (grouped by reason by
``static/fairwheel.js``, each reason with its fix), earnings and claims, the records table
(searched, filtered and paged on the server) and one record's history: every paid use, what it
earned, and its revocation step by step.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from fairwheel.api import models as m
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api.context import session_of
from fairwheel.domain.records import RecordStatus
from fairwheel.errors import FairwheelError, NotFound
from fairwheel.node.queries import reason_code
from fairwheel.web.charts import line_chart
from fairwheel.web.common import PAGE_SIZE, Ctx, page_links, render, tokens
from fairwheel.web.reasons import REASON_TITLES, fix_for, fixes_for_pool

if TYPE_CHECKING:
    from fairwheel.domain.rows import PoolRow
    from fairwheel.node import Node

__all__ = ["REVOCATION_STEPS", "pool_terms", "router"]

router = APIRouter(include_in_schema=False)
Page = Annotated[int, Query(ge=1, le=m.MAX_ID)]

# The filter form sends its empty fields (``status=`` is "all"): each filter is a string that
# may be empty, checked by its pattern.
_STATUSES = "|".join(s.value for s in RecordStatus)
StatusFilter = Annotated[str, Query(pattern=rf"^({_STATUSES})?$", description="A status.")]
ReasonFilter = Annotated[str, Query(max_length=64, pattern=r"^[a-z_]*$", description="A code.")]
PoolFilter = Annotated[str, Query(pattern=r"^([1-9][0-9]{0,17})?$", description="A pool id.")]
#: What a revocation does, in order (``retrained`` only when the serving model used the record).
REVOCATION_STEPS = (
    ("revoked", "recorded (on-chain once the record was anchored)"),
    ("unserved", "removed from the index: never served or paid again"),
    ("key_destroyed", "its content key shredded: the text can never be read again"),
    ("models_marked", "every model trained on it marked"),
    ("retrained", "the serving model retrained without it (when it was trained on it)"),
)


def pool_terms(node: Node, pool: PoolRow) -> dict[str, Any]:
    """What a contributor should know before submitting to a pool: its labels, the schema of a
    record and the gate's limits, licence, prices and who gets what of each call."""
    pid = int(pool["id"])
    policy = node.gate_policy(pid)
    contributors_bps = 10_000 - int(pool["operator_fee_bps"])
    return {
        "id": pid,
        "name": pool["name"],
        "labels": sorted(pool["labels"]),
        "licence": pool["licence"],
        "max_bytes": policy.max_bytes,
        "min_chars": policy.min_chars,
        "rate_limit": node.settings.rate_limit_per_hour,
        "search_price": str(pool["search_price"]),
        "predict_price": str(pool["predict_price"]),
        "operator_fee_bps": int(pool["operator_fee_bps"]),
        "builder_share_bps": int(pool["builder_share_bps"]),
        "search_share_bps": contributors_bps,
        "predict_share_bps": contributors_bps - int(pool["builder_share_bps"]),
    }


def _filters(pool: int | None, status: str | None, reason: str | None, q: str) -> dict[str, Any]:
    return {"pool": pool, "status": status, "reason": reason, "q": q}


@router.get("/contributor", response_class=HTMLResponse)
def contributor(
    request: Request,
    ctx: Ctx,
    q: Annotated[str, Query(max_length=200, description="Record id or text.")] = "",
    status: StatusFilter = "",
    reason: ReasonFilter = "",
    pool: PoolFilter = "",
    page: Page = 1,
) -> HTMLResponse:
    """Contributor: the pools' terms and the upload; earnings and claims; your records,
    searched and filtered, 50 a page."""
    session = session_of(request, None)
    status_value = status or None
    reason_value = reason or None
    pool_id = int(pool) if pool else None
    values: dict[str, Any] = {"earnings": None, "claims": [], "chart": None, "revocations": {},
                              "found": None, "records": [], "fixes": {}}  # fmt: skip
    with ctx.use() as node:
        pools = node.queries.pools()
        terms = [pool_terms(node, p) for p in pools]
        if session is not None:
            found = node.queries.records_page(
                session.address, pool_id=pool_id, status=status_value, reason=reason_value, text=q,
                page=page, per_page=PAGE_SIZE,
            )  # fmt: skip
            values["found"] = found
            values["records"] = [
                {**uc.record_view({**r, "preview": node.record_preview(r)}).model_dump(),
                 "code": reason_code(r["status"], r["reasons"])}
                for r in found.rows
            ]  # fmt: skip
            values["revocations"] = {
                r["id"]: node.queries.revocation(r["id"])
                for r in values["records"]
                if r["status"] == RecordStatus.REVOKED.value
            }
            earnings = st.earnings(node, session.address)
            values["earnings"] = earnings
            for pe in earnings.pools:
                with contextlib.suppress(FairwheelError):  # nothing in a root yet
                    values["claims"].append(st.claim_proof(node, pe.pool_id, session.address, None))
            values["now"] = node.onchain.now()
    by_pool = {t["id"]: t for t in terms}
    for r in values["records"]:
        r["fix"] = fix_for(r["code"], by_pool.get(r["pool_id"], {})) if r["code"] else ""
    found = values["found"]
    if found is not None:
        filters = _filters(pool_id, status_value, reason_value, q)
        values["filters"] = filters
        values["links"] = page_links("/contributor", filters, found.page, found.pages)
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
    data = {"pools": {str(t["id"]): {**t, "fixes": fixes_for_pool(t)} for t in terms}}
    return render(request, ctx, "contributor.html", data, pools=pools, terms=terms,
                  titles=REASON_TITLES, statuses=[s.value for s in RecordStatus],
                  **values)  # fmt: skip


@router.get("/contributor/records/{record_id}", response_class=HTMLResponse)
def record_history(
    request: Request, ctx: Ctx, record_id: Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID)]
) -> HTMLResponse:
    """One of your records: its verdict and the fix, its receipt, every paid use and what it
    earned, and its revocation step by step (another contributor's record is "not found")."""
    session = session_of(request, None)
    if session is None:
        return render(request, ctx, "record.html", record=None)
    with ctx.use() as node:
        try:
            row = uc.own_record(node, record_id, session.address)
        except NotFound:
            return render(request, ctx, "missing.html", what=f"record {record_id} of yours")
        code = reason_code(row["status"], row["reasons"])
        record = {**uc.record_view(row).model_dump(), "code": code}
        terms = pool_terms(node, node.queries.pool(int(row["pool_id"])))
        receipt = None
        if row["batch_id"] is not None:
            with contextlib.suppress(FairwheelError):
                receipt = uc.receipt_view(node, record_id)
        uses = node.queries.record_uses(record_id)
        revocation = node.queries.revocation(record_id)
    done = {s["step"]: s for s in (revocation or {}).get("steps", [])}
    steps = [
        {"step": name, "what": what, "done": done.get(name)} for name, what in REVOCATION_STEPS
    ]
    if "retrain_pending" in done:
        steps[-1]["pending"] = done["retrain_pending"]
    earned = sum(u.record_amount or 0 for u in uses)
    return render(
        request, ctx, "record.html",
        record=record, fix=fix_for(record["code"], terms) if record["code"] else "",
        title=REASON_TITLES.get(record["code"] or "", ""), terms=terms, receipt=receipt,
        uses=list(reversed(uses)), earned=earned, revocation=revocation, steps=steps,
        revocable=row["status"] in (RecordStatus.ACCEPTED.value, RecordStatus.QUARANTINED.value),
    )  # fmt: skip
