"""Folding an epoch's ledger into cumulative earnings, and the published epoch file.

The epoch file is JSON Lines: a header line, one line per ledger entry of the
epoch, then one line per leaf of cumulative earnings (see docs/protocol.md).
Anyone holding the file and the chain can recompute the root with
:func:`verify_epoch_file` — no access to the node's database is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairwheel.domain.merkle import StandardMerkleTree
from fairwheel.errors import VerificationError
from fairwheel.settlement.ledger import check_entry_sums, verify_chain

EARNINGS_LEAF = ("address", "uint256")
FILE_FORMAT = "fairwheel-epoch-v1"
ZERO_ROOT = "0x" + "00" * 32


@dataclass(frozen=True)
class EpochFold:
    """The result of folding one epoch's ledger entries into cumulative earnings."""

    earnings: dict[str, int]  # account -> cumulative amount (all epochs so far)
    paid: int  # consumers' payments in this epoch
    fees: int  # operator fees in this epoch
    dust: int  # dust carried out of this epoch
    total: int  # sum of cumulative earnings: what the distributor must hold in all


def fold(
    previous: Mapping[str, int], entries: Sequence[Mapping[str, Any]], dust_in: int
) -> EpochFold:
    """Add this epoch's attributed amounts to the previous cumulative earnings."""
    earnings = {a.lower(): int(v) for a, v in previous.items()}
    paid = fees = 0
    dust = dust_in
    for entry in entries:
        check_entry_sums(entry)
        if int(entry["dust_in"]) != dust:
            raise VerificationError(
                f"ledger entry {entry['seq']} carries in {entry['dust_in']} dust, "
                f"but {dust} was carried out before it",
                seq=entry["seq"],
            )
        paid += int(entry["price"])
        fees += int(entry["operator_fee"])
        if entry["builder"] and int(entry["builder_amount"]):
            earnings[entry["builder"]] = earnings.get(entry["builder"], 0) + int(
                entry["builder_amount"]
            )
        for account, amount in entry["attribution"]:
            earnings[account] = earnings.get(account, 0) + int(amount)
        dust = int(entry["dust_out"])
    return EpochFold(earnings, paid, fees, dust, sum(earnings.values()))


def earnings_tree(earnings: Mapping[str, int]) -> StandardMerkleTree:
    """The OpenZeppelin StandardMerkleTree of ``(account, cumulativeAmount)`` leaves."""
    from eth_utils import to_checksum_address

    leaves = [[to_checksum_address(a), int(v)] for a, v in sorted(earnings.items()) if int(v) > 0]
    return StandardMerkleTree.of(leaves, list(EARNINGS_LEAF))


def entry_line(body_json: str, entry_hash: str) -> str:
    """An epoch-file line from a stored ledger entry (canonical JSON) and its hash.

    The stored JSON is spliced rather than re-encoded: closing an epoch of a million calls
    must not parse and re-serialise a million entries.
    """
    return '{"hash":"' + entry_hash + '","type":"entry",' + body_json[1:]


def write_epoch_file(
    path: Path,
    header: Mapping[str, Any],
    entry_lines: Iterable[str],
    earnings: Mapping[str, int],
) -> str:
    """Write the epoch file atomically (streaming) and return its SHA-256 as 0x-hex."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:

        def emit(line: str) -> None:
            data = (line + "\n").encode()
            digest.update(data)
            fh.write(data)

        emit(json.dumps({"type": "header", **header}, sort_keys=True))
        for line in entry_lines:
            emit(line)
        for account, amount in sorted(earnings.items()):
            if int(amount) > 0:
                leaf = {"type": "leaf", "account": account, "cumulative": str(amount)}
                emit(json.dumps(leaf, sort_keys=True))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return "0x" + digest.hexdigest()


@dataclass(frozen=True)
class EpochCheck:
    """What :func:`verify_epoch_file` recomputed."""

    pool: int
    epoch: int
    root: str
    total: int
    file_hash: str
    entries: int
    previous_root: str  # root of the header's previous leaves: must equal epoch - 1's root


def verify_epoch_file(path: Path, previous_leaves: Mapping[str, int] | None = None) -> EpochCheck:
    """Recompute an epoch's root from its published file alone.

    Checks the ledger's hash chain and each entry's conservation, that the
    leaves equal the previous epoch's leaves (from the header) plus the entries,
    and returns the recomputed root for comparison with the chain.

    Raises:
        VerificationError: naming the first thing that does not check out.
    """
    data = path.read_bytes()
    file_hash = "0x" + hashlib.sha256(data).hexdigest()
    header: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = []
    leaves: dict[str, int] = {}
    for number, line in enumerate(data.decode().splitlines(), start=1):
        item = json.loads(line)
        kind = item.pop("type", None)
        if kind == "header":
            header = item
        elif kind == "entry":
            entries.append(item)
        elif kind == "leaf":
            leaves[item["account"].lower()] = int(item["cumulative"])
        else:
            raise VerificationError(f"line {number}: unknown line type {kind!r}")
    if header is None or header.get("format") != FILE_FORMAT:
        raise VerificationError(f"{path} is not a {FILE_FORMAT} file")
    verify_chain(entries, header.get("first_prev_hash"))
    previous = previous_leaves if previous_leaves is not None else header["previous_leaves"]
    folded = fold({a: int(v) for a, v in previous.items()}, entries, int(header["dust_in"]))
    expected = {a: v for a, v in folded.earnings.items() if v > 0}
    if expected != leaves:
        wrong = sorted(set(expected.items()) ^ set(leaves.items()))
        raise VerificationError(
            f"leaf amounts do not follow from the ledger (first mismatch: {wrong[0][0]})",
            account=wrong[0][0],
        )
    root = earnings_tree(leaves).root_hex if leaves else ZERO_ROOT
    prior = {a: int(v) for a, v in previous.items() if int(v) > 0}
    return EpochCheck(
        pool=int(header["pool"]),
        epoch=int(header["epoch"]),
        root=root,
        total=sum(leaves.values()),
        file_hash=file_hash,
        entries=len(entries),
        previous_root=earnings_tree(prior).root_hex if prior else ZERO_ROOT,
    )
