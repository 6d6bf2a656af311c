"""The pool ledger as the services write it: prices, what a payer has spent, new entries.

Serving, labeling and feedback all charge the pool's escrow through :class:`LedgerService`:
one hash-chained entry and the payer's voucher per call, written in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fairwheel.domain.records import canonical_json
from fairwheel.errors import SchemaError
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.domain.rows import LedgerTail
    from fairwheel.domain.typed_data import Voucher

__all__ = ["LEDGER_LOCK", "LedgerService", "price_in"]

LEDGER_LOCK = "fairwheel:ledger"
"""The store lock every ledger writer holds until its transaction ends (``Store.lock``)."""


def price_in(pool: Mapping[str, Any], kind: str) -> int:
    """The price of a ``kind`` call (search or predict) in a loaded pool row.

    Raises:
        SchemaError: ``kind`` is not a paid call kind.
    """
    if kind not in ("search", "predict"):
        raise SchemaError(f"unknown call kind {kind!r} (search or predict)")
    return int(pool[f"{kind}_price"])


class LedgerService(Service):
    """Prices, spent amounts, the operator's free escrow, and appending ledger entries."""

    def price_of(self, pool_id: int, kind: str) -> int:
        """The pool's price of a ``kind`` call (search or predict), in token base units."""
        if kind not in ("search", "predict"):
            raise SchemaError(f"unknown call kind {kind!r} (search or predict)")
        return price_in(self.store.pool(pool_id), kind)

    def spent(self, pool_id: int, consumer: str) -> int:
        """The cumulative amount of the consumer's latest accepted voucher for the pool."""
        current = self.store.voucher(pool_id, consumer)
        return 0 if current is None else current[0]

    def escrow_free(self, pool_id: int) -> int:
        """Operator's escrow in the pool not yet promised to vouchers or open jobs."""
        owner = self.operator.address
        promised = self.spent(pool_id, owner) - int(self.protocol.redeemed(pool_id, owner))
        balance = int(self.protocol.escrow_balance(pool_id, owner))
        return balance - promised - self.store.open_job_budgets(pool_id)

    def append(
        self,
        pool_id: int,
        voucher: Voucher,
        signature: bytes,
        *,
        kind: str,
        price: int,
        query_hash: str,
        operator_fee: int,
        builder: str | None,
        builder_amount: int,
        attribution: list[tuple[str, int]],
        dust_in: int,
        dust_out: int,
        now: int | None = None,
        tail: LedgerTail | None = None,
    ) -> dict[str, Any]:
        """Append one hash-chained entry and store its voucher, stamped with chain time
        ``now`` (default: the latest block's).

        Runs inside the caller's transaction, never one of its own: the entry belongs to the
        caller's unit of work (a paid call, a job's payout) and commits with the rest of it.
        A caller that already holds ``LEDGER_LOCK`` and read ``store.ledger_tail`` under it
        (for the dust it carries) passes that ``tail`` rather than have it read twice.
        """
        from fairwheel.settlement.ledger import make_entry

        if not self.store.in_transaction:
            raise RuntimeError("LedgerService.append must run inside the caller's transaction")
        if tail is None:
            self.store.lock(LEDGER_LOCK)  # sequence numbers are global: one appender at a time
            tail = self.store.ledger_tail(pool_id)
        stamp = int(self.chain.now() if now is None else now)
        seq, prev_hash = tail.seq, tail.prev_hash
        body, digest = make_entry(
            seq=seq + 1, time=stamp, pool=pool_id, consumer=voucher.payer,
            kind=kind, price=price, voucher_amount=voucher.cumulative_amount,
            query_hash=query_hash, operator_fee=operator_fee, builder=builder,
            builder_amount=builder_amount, attribution=attribution, dust_in=dust_in,
            dust_out=dust_out, prev_hash=prev_hash,
        )  # fmt: skip
        self.store.append_ledger(seq + 1, pool_id, canonical_json(body).decode(), digest)
        self.store.fold_open(pool_id, body)
        self.store.put_voucher(pool_id, voucher.payer, voucher.cumulative_amount, signature)
        return body
