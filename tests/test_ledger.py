"""The usage ledger's hash chain catches every edit, drop and reorder."""

from __future__ import annotations

import pytest

from fairwheel.errors import VerificationError
from fairwheel.settlement.ledger import GENESIS_HASH, check_entry_sums, make_entry, verify_chain


def _chain(n: int) -> list[dict]:
    entries, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        body, digest = make_entry(
            seq=seq, time=1000 + seq, pool=1, consumer="0xAbC", kind="search", price=100,
            voucher_amount=100 * seq, query_hash="0x" + "11" * 32, operator_fee=10,
            builder=None, builder_amount=0, attribution=[("0x01", 60), ("0x02", 29)],
            dust_in=0 if seq == 1 else 1, dust_out=1 if seq == 1 else 2, prev_hash=prev,
        )  # fmt: skip
        entries.append({**body, "hash": digest})
        prev = digest
    return entries


def test_intact_chain_verifies() -> None:
    entries = _chain(5)
    assert verify_chain(entries, GENESIS_HASH) == entries[-1]["hash"]


def test_changed_amount_is_caught() -> None:
    entries = _chain(5)
    entries[2]["attribution"][0][1] = "61"
    with pytest.raises(VerificationError, match="entry 3 was altered"):
        verify_chain(entries, GENESIS_HASH)


@pytest.mark.parametrize("mutate", ["drop", "reorder"])
def test_dropped_or_reordered_line_is_caught(mutate: str) -> None:
    entries = _chain(5)
    if mutate == "drop":
        del entries[1]
    else:
        entries[1], entries[2] = entries[2], entries[1]
    with pytest.raises(VerificationError, match="does not follow"):
        verify_chain(entries, GENESIS_HASH)


def test_entry_that_invents_tokens_is_caught() -> None:
    entry = _chain(1)[0]
    check_entry_sums(entry)
    entry["operator_fee"] = "11"
    with pytest.raises(VerificationError, match="conserve"):
        check_entry_sums(entry)
