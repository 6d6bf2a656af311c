"""Batch consents at the HTTP edge: drafts to sign once, and signed batches to submissions.

A contributor asks for a draft (``POST /v1/pools/{id}/consents/batch``): the node builds the tree
of the records' content hashes, and answers the unsigned ``BatchConsent`` over its root with the
typed data to sign and each record's proof. The signed batch then goes to the contribution route
in ``batches`` (see :mod:`fairwheel.domain.batch_consent`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fairwheel.api import models as m
from fairwheel.api import models_contrib as mc
from fairwheel.api.usecases import js_safe_typed_data
from fairwheel.domain.batch_consent import BatchConsent, BatchRecordConsent, content_tree
from fairwheel.domain.records import Submission, content_hash
from fairwheel.errors import SchemaError

if TYPE_CHECKING:
    from fairwheel.node import Node


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _consent_view(batch: BatchConsent) -> mc.BatchConsentIn:
    return mc.BatchConsentIn(
        contributor=batch.contributor,
        pool_id=batch.pool_id,
        content_root=_hex(batch.content_root),
        licence=batch.licence,
        purposes=batch.purposes,
        expiry=batch.expiry,
        nonce=str(batch.nonce),
    )


def _batch_consent(c: mc.BatchConsentIn) -> BatchConsent:
    return BatchConsent(
        contributor=c.contributor,
        pool_id=c.pool_id,
        content_root=bytes.fromhex(c.content_root[2:]),
        licence=c.licence,
        purposes=c.purposes,
        expiry=c.expiry,
        nonce=int(c.nonce),
    )


def batch_submissions(
    batches: Iterable[mc.SignedBatchIn], *, first_index: int = 0
) -> list[Submission]:
    """Turn the request's signed batches into the node's submissions (all or nothing).

    Each record's content hash is computed here from its text and label, so a record whose text
    or label was changed after signing no longer proves into the signed root.

    Args:
        batches: The signed batches, in request order.
        first_index: The index of the first batch record in the whole request (errors name it).

    Raises:
        SchemaError: If a batch consent's fields are out of range (names the record's index).
    """
    out: list[Submission] = []
    index = first_index
    for batch_in in batches:
        try:
            batch = _batch_consent(batch_in.consent)
        except SchemaError as exc:
            raise SchemaError(
                f"record {index}: {exc.message}", index=index, **exc.details
            ) from None
        signature = bytes.fromhex(batch_in.signature[2:])
        for record in batch_in.records:
            proof = tuple(bytes.fromhex(node[2:]) for node in record.proof)
            consent = BatchRecordConsent(batch, content_hash(record.text, record.label), proof)
            out.append(Submission(record.text, record.label, consent, signature))
            index += 1
    return out


def batch_consent_draft(
    node: Node, pool_id: int, contributor: str, req: m.ConsentRequest
) -> mc.BatchConsentDraft:
    """One unsigned ``BatchConsent`` over the caller's records, and each record's proof."""
    pool = node.queries.pool(pool_id)
    hashes = [content_hash(r.text, r.label) for r in req.records]
    tree = content_tree(hashes)
    batch = BatchConsent(
        contributor=contributor,
        pool_id=pool_id,
        content_root=tree.root,
        licence=req.licence or pool["licence"],
        purposes=req.purposes,
        expiry=node.onchain.now() + req.lifetime,
        nonce=secrets.randbits(52),  # below 2**53: exact in every JSON parser
    )
    records = [
        mc.BatchRecordDraft(content_hash=_hex(h), proof=tree.proof_hex(i))
        for i, h in enumerate(hashes)
    ]
    return mc.BatchConsentDraft(
        consent=_consent_view(batch),
        typed_data=js_safe_typed_data(batch.to_typed_data(node.consent_domain())),
        records=records,
    )
