"""The usage ledger: one hash-chained entry per paid call.

An entry's hash is ``sha256(prev_hash || canonical_json(body))`` where the
body holds the entry's fields *including* ``prev_hash``; changing, dropping or
reordering any entry breaks every hash after it. (The ledger is checked off-chain
only, so it uses SHA-256 from the standard library: a million entries verify in
seconds.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fairwheel.domain.records import canonical_json
from fairwheel.errors import VerificationError

GENESIS_HASH = "0x" + "00" * 32

ENTRY_FIELDS = (
    "seq",
    "time",
    "pool",
    "consumer",
    "kind",
    "price",
    "voucher_amount",
    "query_hash",
    "operator_fee",
    "builder",
    "builder_amount",
    "attribution",
    "dust_in",
    "dust_out",
    "prev_hash",
)


def entry_hash(body: Mapping[str, Any]) -> str:
    """The hash of a ledger entry body (which already contains ``prev_hash``)."""
    prev = bytes.fromhex(str(body["prev_hash"]).removeprefix("0x"))
    return "0x" + hashlib.sha256(prev + canonical_json(dict(body))).hexdigest()


def make_entry(
    *,
    seq: int,
    time: int,
    pool: int,
    consumer: str,
    kind: str,
    price: int,
    voucher_amount: int,
    query_hash: str,
    operator_fee: int,
    builder: str | None,
    builder_amount: int,
    attribution: Sequence[tuple[str, int]],
    dust_in: int,
    dust_out: int,
    prev_hash: str,
) -> tuple[dict[str, Any], str]:
    """Build a ledger entry body and its hash. Amounts are serialised as decimal strings."""
    body: dict[str, Any] = {
        "seq": seq,
        "time": time,
        "pool": pool,
        "consumer": consumer.lower(),
        "kind": kind,
        "price": str(price),
        "voucher_amount": str(voucher_amount),
        "query_hash": query_hash,
        "operator_fee": str(operator_fee),
        "builder": builder.lower() if builder else None,
        "builder_amount": str(builder_amount),
        "attribution": [[a.lower(), str(v)] for a, v in attribution],
        "dust_in": str(dust_in),
        "dust_out": str(dust_out),
        "prev_hash": prev_hash,
    }
    return body, entry_hash(body)


def verify_chain(entries: Iterable[Mapping[str, Any]], start_hash: str | None = None) -> str:
    """Check that ``entries`` form an unbroken hash chain; return the last hash.

    Args:
        entries: ledger entries with their ``hash`` field, in sequence order.
        start_hash: the hash the first entry must point to (any, if None).

    Raises:
        VerificationError: naming the first entry whose link or hash is wrong.
    """
    prev = start_hash
    for entry in entries:
        body = {k: entry[k] for k in ENTRY_FIELDS}
        if prev is not None and body["prev_hash"] != prev:
            raise VerificationError(
                f"ledger entry {body['seq']} does not follow the previous entry "
                "(dropped, reordered or inserted line)",
                seq=body["seq"],
            )
        actual = entry_hash(body)
        if actual != entry["hash"]:
            raise VerificationError(
                f"ledger entry {body['seq']} was altered: its hash does not match its content",
                seq=body["seq"],
            )
        prev = actual
    return prev or GENESIS_HASH


def check_entry_sums(entry: Mapping[str, Any]) -> None:
    """Check one entry's money: price + dust_in = fee + builder + attribution + dust_out.

    Raises:
        VerificationError: the entry creates or destroys tokens.
    """
    out = (
        int(entry["operator_fee"])
        + int(entry["builder_amount"])
        + sum(int(v) for _, v in entry["attribution"])
        + int(entry["dust_out"])
    )
    if int(entry["price"]) + int(entry["dust_in"]) != out:
        raise VerificationError(
            f"ledger entry {entry['seq']} does not conserve tokens", seq=entry["seq"]
        )
