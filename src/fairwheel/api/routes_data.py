"""Contributions (batch, streamed, and batches under one consent), receipts, revocation, and the
caller's own records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from fairwheel.api import models as m
from fairwheel.api import models_contrib as mc
from fairwheel.api import settled as st
from fairwheel.api import usecases as uc
from fairwheel.api import usecases_batch as ub
from fairwheel.api.context import ApiContext, Forbidden, RequiredSession, get_ctx
from fairwheel.api.jsonlimits import loads_bounded
from fairwheel.domain.records import RecordStatus
from fairwheel.errors import SchemaError

router = APIRouter(prefix="/v1", tags=["contributions"])
Ctx = Annotated[ApiContext, Depends(get_ctx)]
PoolId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Pool id.")]
RecordId = Annotated[m.PathInt, Path(ge=1, le=m.MAX_ID, description="Record id.")]
_MAX_LINE = 256 * 1024


def _submit(
    ctx: ApiContext,
    pool_id: int,
    address: str,
    batch: list[m.SubmissionIn],
    signed_batches: Sequence[mc.SignedBatchIn] = (),
) -> m.ContributionResult:
    """Check every record is the caller's, then run them through the gate in one transaction.

    ``batch`` (a consent each) comes first, then the records of ``signed_batches`` in order.
    """
    signers = [item.consent.contributor for item in batch]
    signers += [b.consent.contributor for b in signed_batches for _ in b.records]
    for i, signer in enumerate(signers):
        if signer.lower() != address.lower():
            raise Forbidden(f"record {i} is signed for {signer}, not for you", index=i)
    subs = uc.submissions(pool_id, batch)
    subs += ub.batch_submissions(signed_batches, first_index=len(batch))
    with ctx.use() as node:
        results = node.submit(pool_id, subs)
    counts: dict[str, int] = {}
    views = []
    for i, r in enumerate(results):
        counts[r.status] = counts.get(r.status, 0) + 1
        views.append(
            m.SubmitResultView(
                index=i,
                record_id=r.record_id,
                status=r.status,
                score=r.score,
                reasons=list(r.reasons),
                duplicate_of=r.duplicate_of,
            )
        )
    if ctx.metrics is not None:
        for status, n in counts.items():
            ctx.metrics.contributions.labels(str(pool_id), status).inc(n)
    return m.ContributionResult(pool_id=pool_id, counts=counts, results=views)


@router.post("/pools/{pool_id}/consents", response_model=m.ConsentDrafts)
def draft_consents(
    ctx: Ctx, pool_id: PoolId, body: m.ConsentRequest, session: RequiredSession
) -> m.ConsentDrafts:
    """Unsigned EIP-712 consents for your records (content hash, expiry and nonce filled in).

    A convenience for in-page wallets; the Python client builds consents locally.
    """
    with ctx.use() as node:
        return uc.consent_drafts(node, pool_id, session.address, body)


@router.post("/pools/{pool_id}/consents/batch", response_model=mc.BatchConsentDraft)
def draft_batch_consent(
    ctx: Ctx, pool_id: PoolId, body: m.ConsentRequest, session: RequiredSession
) -> mc.BatchConsentDraft:
    """One unsigned EIP-712 ``BatchConsent`` over all your records, and each record's proof.

    Sign ``typed_data`` once, then send the records with their proofs in ``batches`` of the
    contribution request. A convenience: the Python client builds batches locally.
    """
    with ctx.use() as node:
        return ub.batch_consent_draft(node, pool_id, session.address, body)


@router.post("/pools/{pool_id}/contributions", response_model=m.ContributionResult)
def submit(
    ctx: Ctx, pool_id: PoolId, body: mc.ContributionBatch, session: RequiredSession
) -> m.ContributionResult:
    """Submit up to 1,000 records — each with its own signed consent (``records``), or many
    under one signed ``BatchConsent`` with their inclusion proofs (``batches``) — and get the
    gate's verdict per record.

    Every record must be signed by the caller. Rejections are results with a reason, not
    errors; a malformed request stores nothing. A record of a signed batch is accepted once:
    sent again, in this request or a later one, it is ``consent_replayed``. Send an
    ``Idempotency-Key`` to retry safely.
    """
    return _submit(ctx, pool_id, session.address, body.records, body.batches)


async def _lines(request: Request) -> AsyncIterator[bytes]:
    buffer = b""
    async for chunk in request.stream():
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line
        if len(buffer) > _MAX_LINE:
            raise SchemaError(f"a line is longer than {_MAX_LINE} bytes")
    if buffer:
        yield buffer


@router.post(
    "/pools/{pool_id}/contributions/stream",
    response_model=m.ContributionResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {
                        "type": "string",
                        "description": "One SubmissionIn JSON object per line.",
                    }
                }
            },
        }
    },
)
async def submit_stream(
    ctx: Ctx, pool_id: PoolId, request: Request, session: RequiredSession
) -> m.ContributionResult:
    """Stream a large upload as JSON Lines (one record per line, up to 64 MiB and 20,000 records).

    The body is parsed as it arrives; the records are judged together once it is complete,
    in one transaction, so a broken line or a dropped connection stores nothing.
    """
    batch: list[m.SubmissionIn] = []
    number = 0
    async for line in _lines(request):
        number += 1
        if not line.strip():
            continue
        try:
            batch.append(m.SubmissionIn.model_validate(loads_bounded(line, f"line {number}")))
        except (ValueError, ValidationError) as exc:
            raise SchemaError(f"line {number}: {str(exc).splitlines()[0]}", line=number) from None
        # (a SchemaError from loads_bounded, too deep, passes through with its own message)
        if len(batch) > ctx.config.max_stream_records:
            raise SchemaError(f"more than {ctx.config.max_stream_records} records in one upload")
    if not batch:
        raise SchemaError("no records in the upload")
    return await run_in_threadpool(_submit, ctx, pool_id, session.address, batch)


@router.get("/contributions/{record_id}", response_model=m.RecordView)
def get_contribution(ctx: Ctx, record_id: RecordId, session: RequiredSession) -> m.RecordView:
    """Status, score and reasons of one of your records (404 for anyone else's)."""
    with ctx.use() as node:
        return uc.record_view(uc.own_record(node, record_id, session.address))


@router.get("/contributions/{record_id}/receipt", response_model=m.ReceiptView)
def get_receipt(ctx: Ctx, record_id: RecordId, session: RequiredSession) -> m.ReceiptView:
    """The inclusion receipt (batch root, Merkle proof, transaction), checked on-chain now."""
    with ctx.use() as node:
        uc.own_record(node, record_id, session.address)
        return uc.receipt_view(node, record_id)


@router.get("/contributions/{record_id}/revocation", response_model=m.TypedData)
def revocation_to_sign(ctx: Ctx, record_id: RecordId, session: RequiredSession) -> m.TypedData:
    """The EIP-712 ``Revocation`` of one of your records, for your wallet to sign."""
    with ctx.use() as node:
        return uc.revocation_typed_data(node, uc.own_record(node, record_id, session.address))


@router.post("/contributions/{record_id}/revocation", response_model=m.RevocationOut)
def revoke(ctx: Ctx, record_id: RecordId, body: m.RevocationIn) -> m.RevocationOut:
    """Revoke a record with its contributor's signed ``Revocation`` (no session needed).

    The node relays ``PoolRegistry.revokeWithSig`` and pays the gas; from the next call on
    the record is never served or paid, and its content key is destroyed.
    """
    with ctx.use() as node:
        node.queries.record(record_id)
        tx_hash = node.revoke_signed(record_id, bytes.fromhex(body.signature[2:]))
    return m.RevocationOut(record_id=record_id, status=RecordStatus.REVOKED.value, tx_hash=tx_hash)


# ------------------------------------------------------------------------- me


@router.get("/me/records", response_model=list[m.RecordView], tags=["me"])
def my_records(
    ctx: Ctx,
    session: RequiredSession,
    pool_id: Annotated[int | None, Query(ge=1, le=m.MAX_ID)] = None,
    status: Annotated[RecordStatus | None, Query()] = None,
) -> list[m.RecordView]:
    """Your records, newest first (nobody else's are ever listed)."""
    with ctx.use() as node:
        if pool_id is not None:
            node.queries.pool(pool_id)
        return uc.my_records(
            node, session.address, pool_id, None if status is None else status.value
        )


@router.get("/me/earnings", response_model=m.EarningsView, tags=["me"])
def my_earnings(ctx: Ctx, session: RequiredSession) -> m.EarningsView:
    """Every paid use of your data (and of models you built), with its earnings per epoch."""
    with ctx.use() as node:
        return st.earnings(node, session.address)


@router.get("/me/calls", response_model=list[m.CallView], tags=["me"])
def my_calls(ctx: Ctx, session: RequiredSession) -> list[m.CallView]:
    """Your paid calls as a consumer, oldest first: the spend per call."""
    with ctx.use() as node:
        entries = node.queries.ledger(consumer=session.address)
    return [uc.call_view(e) for e in entries]
