"""Use cases the HTTP edge adds on top of :class:`fairwheel.node.Node`, and the row-to-view code.

Everything here runs with the node's lock held (see :mod:`fairwheel.api.context`). The
functions read the node's store and chain and return the API's pydantic views.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from fairwheel.api import models as m
from fairwheel.domain.records import Submission, content_hash
from fairwheel.domain.rows import LedgerEntry, PoolRow
from fairwheel.errors import NotFound, SchemaError

if TYPE_CHECKING:
    from fairwheel.node import Node

JS_SAFE = 2**53 - 1


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def js_safe_typed_data(typed: dict[str, Any]) -> m.TypedData:
    """A typed-data payload whose large integers are decimal strings (JSON-safe for browsers).

    Wallets (``eth_signTypedData_v4``) and ``eth_account`` accept decimal strings for
    ``uint`` fields, and JavaScript numbers lose precision above 2**53.
    """
    message = {
        k: str(v) if isinstance(v, int) and not isinstance(v, bool) and v > JS_SAFE else v
        for k, v in typed["message"].items()
    }
    return m.TypedData(
        types=typed["types"],
        primaryType=typed["primaryType"],
        domain=typed["domain"],
        message=message,
    )


# ---------------------------------------------------------------------- pools


def pool_view(row: PoolRow) -> m.PoolView:
    return m.PoolView(
        id=row["id"],
        name=row["name"],
        operator=row["operator"],
        guardian=row["guardian"],
        search_price=str(row["search_price"]),
        predict_price=str(row["predict_price"]),
        operator_fee_bps=row["operator_fee_bps"],
        builder_share_bps=row["builder_share_bps"],
        labels=list(row["labels"]),
        licence=row["licence"],
        tx_hash=row["tx_hash"],
        created_at=float(row["created_at"]),
    )


def pool_stats(node: Node, pool_id: int) -> m.PoolStats:
    stats = node.pool_stats(pool_id)
    return m.PoolStats(
        pool_id=pool_id,
        records=stats["records"],
        rejected_by_reason=stats["rejected_by_reason"],
        index_size=int(stats["index_size"]),
        calls=int(stats["calls"]),
        revenue=str(stats["revenue"]),
        epochs=node.queries.epoch_count(pool_id),
        models=int(node.onchain.pool_info(pool_id).model_count),
    )


# --------------------------------------------------------------- contributions


def submissions(pool_id: int, batch: Iterable[m.SubmissionIn]) -> list[Submission]:
    """Turn the request's records into the node's submissions (all or nothing).

    Raises:
        SchemaError: If a consent's fields are out of range (names the record's index).
    """
    from fairwheel.domain.typed_data import Consent

    out = []
    for i, item in enumerate(batch):
        c = item.consent
        try:
            consent = Consent(
                contributor=c.contributor,
                pool_id=c.pool_id,
                content_hash=bytes.fromhex(c.content_hash[2:]),
                licence=c.licence,
                purposes=c.purposes,
                expiry=c.expiry,
                nonce=int(c.nonce),
            )
        except SchemaError as exc:
            raise SchemaError(f"record {i}: {exc.message}", index=i, **exc.details) from None
        sig = bytes.fromhex(item.signature[2:])
        out.append(Submission(text=item.text, label=item.label, consent=consent, signature=sig))
    return out


def consent_drafts(
    node: Node, pool_id: int, contributor: str, req: m.ConsentRequest
) -> m.ConsentDrafts:
    """Unsigned consents for the caller's records, ready for their wallet to sign."""
    from fairwheel.domain.typed_data import Consent

    pool = node.queries.pool(pool_id)
    expiry = node.onchain.now() + req.lifetime
    domain = node.consent_domain()
    items = []
    for draft in req.records:
        consent = Consent(
            contributor=contributor,
            pool_id=pool_id,
            content_hash=content_hash(draft.text, draft.label),
            licence=req.licence or pool["licence"],
            purposes=req.purposes,
            expiry=expiry,
            nonce=secrets.randbits(52),  # below 2**53: exact in every JSON parser
        )
        view = m.ConsentIn(
            contributor=consent.contributor,
            pool_id=pool_id,
            content_hash=_hex(consent.content_hash),
            licence=consent.licence,
            purposes=consent.purposes,
            expiry=consent.expiry,
            nonce=str(consent.nonce),
        )
        items.append(
            m.ConsentDraft(
                consent=view, typed_data=js_safe_typed_data(consent.to_typed_data(domain))
            )
        )
    return m.ConsentDrafts(items=items)


def record_view(row: dict[str, Any]) -> m.RecordView:
    return m.RecordView(
        id=row["id"],
        pool_id=row["pool_id"],
        record_hash=_hex(row["record_hash"]),
        status=row["status"],
        score=float(row["score"]),
        reasons=list(row["reasons"]),
        duplicate_of=row["duplicate_of"],
        label=row["label"],
        preview=row["preview"] or "",
        licence=row["licence"],
        purposes=int(row["purposes"]),
        expiry=int(row["expiry"]),
        batch_id=row["batch_id"],
        created_at=float(row["created_at"]),
    )


def own_record(node: Node, record_id: int, address: str) -> dict[str, Any]:
    """The record if ``address`` contributed it; NotFound otherwise (existence is not leaked)."""
    try:
        row = node.queries.record(record_id)
    except NotFound:
        row = None
    if row is None or row["contributor"] != address.lower():
        raise NotFound(f"you have no record {record_id}", record_id=record_id)
    return {**row, "preview": node.record_preview(row)}


def my_records(
    node: Node, address: str, pool_id: int | None, status: str | None
) -> list[m.RecordView]:
    """The caller's records (newest first); other contributors' records are never listed."""
    rows = node.queries.records_of(address, pool_id, status)
    rows.sort(key=lambda r: -int(r["id"]))
    return [record_view({**r, "preview": node.record_preview(r)}) for r in rows]


def receipt_view(node: Node, record_id: int) -> m.ReceiptView:
    receipt = node.receipt(record_id)
    view = {**receipt.__dict__, "reasons": list(receipt.reasons)}
    return m.ReceiptView(**view, verified=node.verify_receipt(receipt))


def revocation_typed_data(node: Node, row: dict[str, Any]) -> m.TypedData:
    from fairwheel.domain.typed_data import Revocation

    revocation = Revocation(row["contributor"], int(row["pool_id"]), bytes(row["record_hash"]))
    return js_safe_typed_data(revocation.to_typed_data(node.consent_domain()))


# ------------------------------------------------------------------ paid calls


def shares(pairs: Iterable[Sequence[Any]]) -> list[m.Share]:
    return [m.Share(account=a, amount=str(v)) for a, v in pairs]


def call_view(entry: LedgerEntry) -> m.CallView:
    fields: dict[str, Any] = {k: v for k, v in entry.items() if k in m.CallView.model_fields}
    fields["attribution"] = shares(entry["attribution"])
    return m.CallView(**fields)


def paid_view(node: Node, pool_id: int, result: Any, voucher: Any) -> m.PaidCallView:
    hits = [m.HitView(**h.__dict__) for h in result.hits]
    return m.PaidCallView(
        seq=result.seq,
        kind=result.kind,
        pool_id=pool_id,
        consumer=voucher.payer,
        price=str(result.price),
        voucher_amount=str(voucher.cumulative_amount),
        operator_fee=str(result.operator_fee),
        builder_amount=str(result.builder_amount),
        attribution=shares(sorted(result.attribution.items())),
        hits=hits,
        prediction=result.prediction,
        confidence=result.confidence,
        model_hash=result.model_hash,
        model_version=result.model_version,
        notice=result.notice,
        arena=result.arena,
    )


def quote(node: Node, pool_id: int, kind: str, payer: str) -> m.Quote:
    """The voucher a payer signs for their next call of ``kind``."""
    from fairwheel.domain.typed_data import Voucher

    price = node.price_of(pool_id, kind)
    spent = node.spent(pool_id, payer)
    voucher = Voucher(payer, pool_id, spent + price)
    return m.Quote(
        pool_id=pool_id,
        kind=kind,
        price=str(price),
        payer=voucher.payer,
        spent=str(spent),
        next_cumulative=str(spent + price),
        typed_data=js_safe_typed_data(voucher.to_typed_data(node.voucher_domain())),
    )


def escrow_view(node: Node, pool_id: int, payer: str) -> m.EscrowView:
    state = node.onchain.escrow(pool_id, payer)
    return m.EscrowView(
        pool_id=pool_id,
        payer=payer,
        balance=str(state.balance),
        redeemed=str(state.redeemed),
        spent=str(state.spent),
        unredeemed=str(state.unredeemed),
        available=str(state.available),
        pending_withdrawal=str(state.pending_withdrawal),
        withdraw_ready_at=state.withdraw_ready_at,
    )
