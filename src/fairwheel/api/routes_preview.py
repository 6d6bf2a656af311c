"""A dry run of the contribution gate before anything is signed: ``POST /v1/pools/{id}/preview``.

The answer says per row what a contribution would get (``accepted``, ``quarantined``,
``rejected``), the deciding reason and the fix (:mod:`fairwheel.node.preview`). Nothing is
stored, no nonce is spent and no reputation changes, so no sign-in is needed; with a session the
rows are judged as the session's account (its rate limit and flag), else as ``contributor``, else
as a new contributor's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from fairwheel.api import models as m
from fairwheel.api.context import ApiContext, OptionalSession, get_ctx
from fairwheel.api.models_contrib import MAX_RECORDS
from fairwheel.errors import Forbidden

router = APIRouter(prefix="/v1", tags=["contributions"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Pool id.")]


class PreviewRowIn(m.Model):
    """One row as it would be submitted (unsigned)."""

    text: str = Field(max_length=65_536)
    label: str | None = Field(None, max_length=200)


class PreviewRequest(m.Model):
    """Up to 1,000 rows, in upload order, and optionally who would submit them."""

    rows: list[PreviewRowIn] = Field(min_length=1, max_length=MAX_RECORDS)
    contributor: m.Address | None = Field(
        None, description="Judge the rows as this account's (default: the session's, else new)."
    )


class PreviewRowView(m.Model):
    """What the gate would do with one row, why, and how to fix it."""

    index: int
    status: str = Field(description="accepted, quarantined or rejected.")
    reason: str = Field(description="The deciding check's code; 'accepted' if accepted.")
    detail: str
    hint: str = Field(description="How to fix the row; empty when nothing needs fixing.")
    duplicate_of: int | None = Field(None, description="The stored record holding this text.")
    duplicate_of_row: int | None = Field(None, description="The earlier row with this text.")
    score: float


class PreviewView(m.Model):
    """A dry run over one upload: nothing was stored or spent."""

    pool_id: int
    contributor: str
    counts: dict[str, int]
    rows: list[PreviewRowView]
    notes: list[str]


@router.post("/pools/{pool_id}/preview", response_model=PreviewView)
def preview(
    ctx: Ctx, pool_id: PoolId, body: PreviewRequest, session: OptionalSession
) -> PreviewView:
    """Say per row what contributing these rows would do — status, reason, fix — before they
    are signed. Writes nothing: no record, nonce, reputation or index changes.

    Checks the rate limit, schema and size, exact copies (of stored records and of earlier
    rows of the request), near copies, junk, outliers and labels, as the gate would now; the
    consent's signature, expiry and nonce are checked only at submission.
    """
    who = body.contributor
    if session is not None:
        if who is not None and who.lower() != session.address.lower():
            raise Forbidden(f"signed in as {session.address}: preview as yourself, or sign out "
                            f"to preview as {who}")  # fmt: skip
        who = session.address
    rows = [(r.text, r.label) for r in body.rows]
    with ctx.use() as node:
        result = node.preview(pool_id, rows, who)
    return PreviewView(
        pool_id=result.pool_id,
        contributor=result.contributor,
        counts=result.counts,
        rows=[PreviewRowView(**row.__dict__) for row in result.rows],
        notes=result.notes,
    )
