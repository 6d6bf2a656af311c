"""Client-side signing: what a contributor's or consumer's wallet does locally.

Private keys never reach the node: a contributor signs consent for each record (or one
consent over a whole batch of records, each record carrying its inclusion proof), a consumer
signs vouchers carrying the cumulative amount they agree to pay.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fairwheel.domain.batch_consent import (
    BatchConsent,
    BatchRecordConsent,
    content_tree,
    sign_batch_consent,
)
from fairwheel.domain.records import Submission, content_hash
from fairwheel.domain.typed_data import (
    PURPOSE_SEARCH,
    PURPOSE_TRAINING,
    Consent,
    Eip712Domain,
    Voucher,
    sign_consent,
    sign_voucher,
)
from fairwheel.errors import SchemaError


@dataclass
class ContributorWallet:
    """Signs consent for records a contributor submits to a pool."""

    account: Any  # eth_account LocalAccount
    domain: Eip712Domain
    licence: str = "CC-BY-4.0"
    purposes: int = PURPOSE_SEARCH | PURPOSE_TRAINING
    lifetime: int = 365 * 24 * 3600

    @property
    def address(self) -> str:
        return str(self.account.address)

    def submission(
        self, pool_id: int, text: str, label: str | None, *, now: int, nonce: int | None = None
    ) -> Submission:
        """A signed submission of one record (a fresh random nonce unless one is given)."""
        consent = Consent(
            contributor=self.address,
            pool_id=pool_id,
            content_hash=content_hash(text, label),
            licence=self.licence,
            purposes=self.purposes,
            expiry=now + self.lifetime,
            nonce=secrets.randbits(64) if nonce is None else nonce,
        )
        signature = sign_consent(consent, self.domain, self.account.key)
        return Submission(text=text, label=label, consent=consent, signature=signature)

    def batch_submission(
        self,
        pool_id: int,
        records: Sequence[tuple[str, str | None]],
        *,
        now: int,
        nonce: int | None = None,
    ) -> list[Submission]:
        """Signed submissions of many records under ONE consent (``BatchConsent``).

        Builds the tree of the records' content hashes, signs its root once, and gives each
        record its inclusion proof. Every submission carries the same signature.

        Args:
            pool_id: The pool.
            records: ``(text, label)`` pairs, in the order the submissions come back.
            now: The chain's time; the consent expires ``lifetime`` seconds later.
            nonce: The batch's nonce (a fresh random one unless given).

        Raises:
            SchemaError: No records.
        """
        hashes = [content_hash(text, label) for text, label in records]
        tree = content_tree(hashes)
        batch = BatchConsent(
            contributor=self.address,
            pool_id=pool_id,
            content_root=tree.root,
            licence=self.licence,
            purposes=self.purposes,
            expiry=now + self.lifetime,
            nonce=secrets.randbits(64) if nonce is None else nonce,
        )
        signature = sign_batch_consent(batch, self.domain, self.account.key)
        return [
            Submission(
                text=text,
                label=label,
                consent=BatchRecordConsent(batch, hashes[i], tuple(tree.proof(i))),
                signature=signature,
            )
            for i, (text, label) in enumerate(records)
        ]


def batch_json(submissions: Sequence[Submission]) -> dict[str, Any]:
    """The HTTP API's ``batches`` entry for the submissions of one batch consent.

    ``{"consent": {contributor, pool_id, content_root, licence, purposes, expiry, nonce},
    "signature", "records": [{"text", "label", "proof"}]}`` (docs/api.md, "Contributing").

    Raises:
        SchemaError: No submissions, or ones of more than one batch.
    """
    consents = [sub.consent for sub in submissions]
    if not consents or not all(isinstance(c, BatchRecordConsent) for c in consents):
        raise SchemaError("batch_json needs submissions under a batch consent")
    batches = {c.batch for c in consents}
    if len(batches) != 1:
        raise SchemaError("batch_json needs the submissions of one batch consent, not several")
    batch = batches.pop()
    consent = {
        "contributor": batch.contributor,
        "pool_id": batch.pool_id,
        "content_root": "0x" + batch.content_root.hex(),
        "licence": batch.licence,
        "purposes": batch.purposes,
        "expiry": batch.expiry,
        "nonce": str(batch.nonce),
    }
    records = [
        {"text": sub.text, "label": sub.label, "proof": ["0x" + n.hex() for n in sub.consent.proof]}
        for sub in submissions
    ]
    signature = "0x" + bytes(submissions[0].signature).hex()
    return {"consent": consent, "signature": signature, "records": records}


@dataclass
class ConsumerWallet:
    """Tracks a consumer's cumulative spend per pool and signs the next voucher."""

    account: Any  # eth_account LocalAccount
    domain: Eip712Domain
    spent: dict[int, int] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def pay(self, pool_id: int, price: int) -> tuple[Voucher, bytes]:
        """Sign a voucher that raises the cumulative amount for ``pool_id`` by ``price``.

        The spend is recorded only by :meth:`confirm` once the node accepted the call,
        so a refused call does not leave the wallet ahead of the node.
        """
        voucher = Voucher(self.address, pool_id, self.spent.get(pool_id, 0) + price)
        return voucher, sign_voucher(voucher, self.domain, self.account.key)

    def confirm(self, voucher: Voucher) -> None:
        self.spent[voucher.pool_id] = voucher.cumulative_amount
