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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairwheel.domain.merkle import StandardMerkleTree
from fairwheel.errors import VerificationError
from fairwheel.settlement.ledger import ENTRY_FIELDS, check_entry_sums, entry_hash, verify_chain

EARNINGS_LEAF = ("address", "uint256")
FILE_FORMAT = "fairwheel-epoch-v2"
# v1 files (no collection map, every entry settled) still verify.
FILE_FORMATS = ("fairwheel-epoch-v1", FILE_FORMAT)
ZERO_ROOT = "0x" + "00" * 32


@dataclass(frozen=True)
class EpochFold:
    """The result of folding one epoch's ledger entries into cumulative earnings.

    Only *settled* entries are credited: those whose payer's redeemed cumulative amount at the
    close (``collected``) reaches the entry's voucher amount. The others stay unsettled: their
    earnings and fee are withheld and their price is the payer's debt (docs/settlement.md).
    """

    earnings: dict[str, int]  # account -> cumulative amount (all epochs so far)
    paid: int  # consumers' payments collected for this epoch's settled entries
    fees: int  # operator fees of the settled entries
    dust: int  # dust carried out of this epoch
    total: int  # sum of cumulative earnings: what the distributor must hold in all
    unsettled: tuple[dict[str, Any], ...] = ()  # entries still waiting for their payer
    debts: dict[str, dict[str, int]] = field(default_factory=dict)  # payer -> owed, withheld

    @property
    def withheld(self) -> int:
        """Earnings, builder shares and fees held back until the debts are collected."""
        return sum(d["withheld"] for d in self.debts.values())


def is_settled(entry: Mapping[str, Any], collected: Mapping[str, int] | None) -> bool:
    """Whether the entry's payer had paid for it: its voucher amount is at most what was
    redeemed from that payer (a payer absent from ``collected`` is fully collected)."""
    if collected is None:
        return True
    cap = collected.get(str(entry["consumer"]).lower())
    return cap is None or int(entry["voucher_amount"]) <= cap


class EpochFolder:
    """Fold ledger entries one by one (so a close can stream a million of them)."""

    def __init__(
        self,
        previous: Mapping[str, int],
        dust_in: int,
        collected: Mapping[str, int] | None = None,
    ) -> None:
        self.earnings = {a.lower(): int(v) for a, v in previous.items()}
        self.collected = None if collected is None else {a.lower(): int(v)
                                                         for a, v in collected.items()}  # fmt: skip
        self.paid = self.fees = 0
        self.dust = dust_in
        self.unsettled: list[dict[str, Any]] = []

    def add(self, entry: Mapping[str, Any], *, chained: bool = True) -> None:
        """Fold one entry. ``chained`` entries are this epoch's (their dust must continue the
        previous entry's); unchained ones are earlier epochs' unsettled entries."""
        check_entry_sums(entry)
        if chained:
            if int(entry["dust_in"]) != self.dust:
                raise VerificationError(
                    f"ledger entry {entry['seq']} carries in {entry['dust_in']} dust, "
                    f"but {self.dust} was carried out before it",
                    seq=entry["seq"],
                )
            self.dust = int(entry["dust_out"])
        if not is_settled(entry, self.collected):
            self.unsettled.append(dict(entry))
            return
        self.paid += int(entry["price"])
        self.fees += int(entry["operator_fee"])
        if entry["builder"] and int(entry["builder_amount"]):
            builder = str(entry["builder"])
            self.earnings[builder] = self.earnings.get(builder, 0) + int(entry["builder_amount"])
        for account, amount in entry["attribution"]:
            self.earnings[account] = self.earnings.get(account, 0) + int(amount)

    def result(self) -> EpochFold:
        debts: dict[str, dict[str, int]] = {}
        for entry in self.unsettled:
            payer = str(entry["consumer"]).lower()
            debt = debts.setdefault(payer, {"owed": 0, "withheld": 0, "entries": 0})
            debt["owed"] += int(entry["price"])
            debt["withheld"] += withheld_of(entry)
            debt["entries"] += 1
        return EpochFold(
            self.earnings, self.paid, self.fees, self.dust, sum(self.earnings.values()),
            tuple(self.unsettled), debts,
        )  # fmt: skip


def withheld_of(entry: Mapping[str, Any]) -> int:
    """What an unsettled entry holds back: its attribution, builder share and operator fee."""
    return (
        sum(int(v) for _, v in entry["attribution"])
        + int(entry["builder_amount"] or 0)
        + int(entry["operator_fee"])
    )


def fold(
    previous: Mapping[str, int],
    entries: Sequence[Mapping[str, Any]],
    dust_in: int,
    collected: Mapping[str, int] | None = None,
    deferred: Sequence[Mapping[str, Any]] = (),
) -> EpochFold:
    """Add this epoch's settled amounts to the previous cumulative earnings.

    Args:
        previous: Cumulative earnings up to the previous epoch.
        entries: This epoch's ledger entries, in order (their dust chain is checked).
        dust_in: Dust carried into the epoch.
        collected: Each payer's redeemed cumulative amount at the close; ``None``: all paid.
        deferred: Earlier epochs' unsettled entries, credited now if collected.
    """
    folder = EpochFolder(previous, dust_in, collected)
    for entry in deferred:
        folder.add(entry, chained=False)
    for entry in entries:
        folder.add(entry)
    return folder.result()


def earnings_tree(earnings: Mapping[str, int]) -> StandardMerkleTree:
    """The OpenZeppelin StandardMerkleTree of ``(account, cumulativeAmount)`` leaves."""
    from eth_utils import to_checksum_address

    leaves = [[to_checksum_address(a), int(v)] for a, v in sorted(earnings.items()) if int(v) > 0]
    return StandardMerkleTree.of(leaves, list(EARNINGS_LEAF))


def entry_line(body_json: str, entry_hash: str, kind: str = "entry") -> str:
    """An epoch-file line from a stored ledger entry (canonical JSON) and its hash.

    The stored JSON is spliced rather than re-encoded: closing an epoch of a million calls
    must not parse and re-serialise a million entries. ``kind`` is ``entry`` for this epoch's
    entries and ``deferred`` for earlier epochs' entries that were still unsettled.
    """
    return '{"hash":"' + entry_hash + '","type":"' + kind + '",' + body_json[1:]


def debt_lines(debts: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """The epoch file's ``debt`` lines: what each payer still owes after the close."""
    return [
        {"type": "debt", "payer": payer, "owed": str(d["owed"]), "withheld": str(d["withheld"]),
         "entries": int(d["entries"])}
        for payer, d in sorted(debts.items())
    ]  # fmt: skip


def write_epoch_file(
    path: Path,
    header: Mapping[str, Any],
    entry_lines: Iterable[str],
    earnings: Mapping[str, int],
    debts: Mapping[str, Mapping[str, int]] | None = None,
) -> str:
    """Write the epoch file atomically (streaming) and return its SHA-256 as 0x-hex.

    Lines: the header, the entries (and deferred entries), the leaves, then one ``debt`` line
    per payer who still owes something.
    """
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
        for debt in debt_lines(debts or {}):
            emit(json.dumps(debt, sort_keys=True))
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
    debts: dict[str, dict[str, int]] = field(default_factory=dict)  # payer -> owed, withheld


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
    deferred: list[dict[str, Any]] = []
    leaves: dict[str, int] = {}
    debts: list[dict[str, Any]] = []
    for number, line in enumerate(data.decode().splitlines(), start=1):
        item = json.loads(line)
        kind = item.pop("type", None)
        if kind == "header":
            header = item
        elif kind == "entry":
            entries.append(item)
        elif kind == "deferred":
            deferred.append(item)
        elif kind == "leaf":
            leaves[item["account"].lower()] = int(item["cumulative"])
        elif kind == "debt":
            debts.append({"type": "debt", **item})
        else:
            raise VerificationError(f"line {number}: unknown line type {kind!r}")
    if header is None or header.get("format") not in FILE_FORMATS:
        raise VerificationError(f"{path} is not a {FILE_FORMAT} file")
    verify_chain(entries, header.get("first_prev_hash"))
    for item in deferred:  # each an earlier epoch's entry, intact (its chain was checked then)
        if entry_hash({k: item[k] for k in ENTRY_FIELDS}) != item["hash"]:
            raise VerificationError(
                f"deferred ledger entry {item['seq']} was altered", seq=item["seq"]
            )
    previous = previous_leaves if previous_leaves is not None else header["previous_leaves"]
    collected = header.get("collected")
    folded = fold(
        {a: int(v) for a, v in previous.items()}, entries, int(header["dust_in"]),
        None if collected is None else {a: int(v) for a, v in collected.items()}, deferred,
    )  # fmt: skip
    if debt_lines(folded.debts) != debts:
        raise VerificationError("debt lines do not follow from the entries and collections")
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
        debts=folded.debts,
    )
