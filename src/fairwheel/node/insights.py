"""Read models of a pool's history, for the dashboard's plots: the revenue split of every epoch,
consumers' spend over time, earnings credited in the ledger against what the chain posted, the
pool's quality mix and model accuracy by version.

Everything is computed from :class:`fairwheel.node.queries.QueryService` (the ledger, epochs,
models, records) and :class:`fairwheel.node.onchain.OnchainService` (each epoch's root as
``RewardDistributor`` holds it), never from the store or the simulator. Money is ``int`` in
token base units.

Which epoch a ledger entry belongs to is read from the epoch's published file (its hash is
on-chain): an epoch settles the pool's open entries up to its last ``entry`` line, in sequence
order, so each epoch is one run of the pool's entries. A file is read once per content hash.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from fairwheel.node.queries import reason_code

if TYPE_CHECKING:
    from fairwheel.domain.rows import LedgerEntry
    from fairwheel.node.onchain import OnchainService
    from fairwheel.node.queries import QueryService

__all__ = [
    "SPLIT_PARTS",
    "EarningsPoint",
    "EpochSplit",
    "ModelPoint",
    "QualitySlice",
    "SpendBucket",
    "earnings_points",
    "epoch_bounds",
    "model_points",
    "quality_mix",
    "revenue_split",
    "spend_buckets",
]

#: The parts of an epoch's revenue, bottom to top of a stacked column, with their legend names.
SPLIT_PARTS = (
    ("contributors", "contributors"),
    ("operator_fee", "operator fee"),
    ("builder", "builder"),
    ("labelers", "labelers"),
    ("raters", "raters"),
    ("dust", "dust"),
)
#: Ledger kinds that are consumers' paid calls (``labeling`` and ``feedback`` are the operator's
#: payments to labelers and raters, through the same ledger).
CALL_KINDS = ("search", "predict")
HOUR, DAY, WEEK = 3600, 86_400, 7 * 86_400


@dataclass(frozen=True)
class EpochSplit:
    """Where one epoch's revenue went, from its ledger entries.

    Per entry ``price + dust_in == operator_fee + builder + sum(attribution) + dust_out``
    (:mod:`fairwheel.valuation.split`), so the parts add up to the revenue exactly; ``dust`` is
    the rounding dust the epoch added to what the pool carries (negative when it paid out more
    carried dust than it left).

    Attributes:
        epochs: The closed epochs these entries settled in (one, or several when an epoch's file
            could not be read); empty for the open epoch (not closed yet).
        first_seq: The first entry's sequence number (None: no entries).
        last_seq: The last entry's.
        calls: Consumers' paid calls (searches and predictions).
        revenue: What the entries paid: consumers' calls, and the operator's payments to
            labelers and raters.
        contributors: Attributed to contributors (search and prediction entries).
        operator_fee: The operator's fee.
        builder: The model builder's share (predictions).
        labelers: Paid to labelers (``labeling`` entries).
        raters: Paid to raters (``feedback`` entries).
        dust: Rounding dust added to the pool's carry (``dust_out - dust_in``, summed).
    """

    epochs: tuple[int, ...]
    first_seq: int | None
    last_seq: int | None
    calls: int
    revenue: int
    contributors: int
    operator_fee: int
    builder: int
    labelers: int
    raters: int
    dust: int

    @property
    def label(self) -> str:
        """``epoch 2``, ``epochs 2–3`` or ``open``."""
        if not self.epochs:
            return "open"
        if len(self.epochs) == 1:
            return f"epoch {self.epochs[0]}"
        return f"epochs {self.epochs[0]}–{self.epochs[-1]}"

    @property
    def parts(self) -> dict[str, int]:
        """The revenue's parts, in :data:`SPLIT_PARTS` order."""
        return {name: int(getattr(self, name)) for name, _ in SPLIT_PARTS}

    @property
    def credited(self) -> int:
        """Earnings credited to accounts (what the epoch adds to the leaves, before any is
        withheld for unpaid vouchers): contributors, builder, labelers and raters."""
        return self.contributors + self.builder + self.labelers + self.raters

    @property
    def balanced(self) -> bool:
        """Whether the parts add up to the revenue (the ledger's conservation)."""
        return sum(self.parts.values()) == self.revenue


@dataclass(frozen=True)
class EarningsPoint:
    """Earnings at one closed epoch: credited in the ledger and posted on-chain.

    Attributes:
        epoch: The epoch.
        contributors: Attributed to contributors by this epoch's entries.
        credited: Credited to every account by this epoch's entries (contributors, builder,
            labelers, raters).
        credited_cumulative: ``credited`` summed over the epochs so far.
        posted_cumulative: The cumulative total of the epoch's root on ``RewardDistributor``
            (less than ``credited_cumulative`` by what is withheld for unpaid vouchers).
    """

    epoch: int
    contributors: int
    credited: int
    credited_cumulative: int
    posted_cumulative: int


@dataclass(frozen=True)
class SpendBucket:
    """Consumers' payments in one interval of chain time ``[start, start + seconds)``."""

    start: int
    seconds: int
    search: int
    predict: int
    calls: int

    @property
    def total(self) -> int:
        """Searches and predictions together."""
        return self.search + self.predict


@dataclass(frozen=True)
class QualitySlice:
    """Records of one status and reason code (None for accepted and revoked records)."""

    status: str
    reason: str | None
    count: int

    @property
    def label(self) -> str:
        """``accepted``, ``quarantined · outlier``, ``rejected · duplicate`` …"""
        return self.status if self.reason is None else f"{self.status} · {self.reason}"


@dataclass(frozen=True)
class ModelPoint:
    """One model version's held-out accuracy (None when its metrics are not on this node)."""

    version: int
    accuracy: float | None
    serving: bool
    trigger: str


# ----------------------------------------------------------------- epochs of the ledger


@lru_cache(maxsize=256)
def _file_last_seq(path: str, file_hash: str) -> int | None:
    """The last ``entry`` line's seq of an epoch file (None: the epoch settled no new entry).

    Cached per content hash: an epoch file never changes once its root is posted.
    """
    last: int | None = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if '"entry"' not in line:
                continue
            item = json.loads(line)
            if item.get("type") != "entry":
                continue
            seq = int(item["seq"])
            last = seq if last is None else max(last, seq)
    return last


def epoch_bounds(queries: QueryService, pool_id: int) -> list[tuple[int, int | None]]:
    """Each closed epoch with the seq of the last ledger entry it settled.

    Returns:
        ``(epoch, last seq)`` in epoch order; the seq is the previous epoch's when the epoch
        settled no new entry, and None when its file cannot be read (moved or lost).
    """
    bounds: list[tuple[int, int | None]] = []
    previous = 0
    for epoch in range(1, queries.epoch_count(pool_id) + 1):
        row = queries.epoch(pool_id, epoch)
        try:
            last = _file_last_seq(str(row["file_path"]), str(row["file_hash"]))
        except (OSError, ValueError, KeyError):
            bounds.append((epoch, None))
            continue
        previous = max(previous, last or 0)
        bounds.append((epoch, previous))
    return bounds


def _split_of(epochs: tuple[int, ...], entries: Sequence[LedgerEntry]) -> EpochSplit:
    parts = dict.fromkeys(("contributors", "operator_fee", "builder", "labelers", "raters"), 0)
    dust = revenue = calls = 0
    for e in entries:
        revenue += int(e["price"])
        attributed = sum(int(v) for _, v in e["attribution"])
        if e["kind"] == "labeling":
            parts["labelers"] += attributed
        elif e["kind"] == "feedback":
            parts["raters"] += attributed
        else:
            parts["contributors"] += attributed
        parts["operator_fee"] += int(e["operator_fee"])
        parts["builder"] += int(e["builder_amount"])
        dust += int(e["dust_out"]) - int(e["dust_in"])
        calls += e["kind"] in CALL_KINDS
    return EpochSplit(
        epochs=epochs,
        first_seq=int(entries[0]["seq"]) if entries else None,
        last_seq=int(entries[-1]["seq"]) if entries else None,
        calls=calls,
        revenue=revenue,
        dust=dust,
        **parts,
    )


def revenue_split(
    queries: QueryService, pool_id: int, *, open_epoch: bool = True
) -> list[EpochSplit]:
    """Where each epoch's revenue went: contributors, operator fee, builder, labelers, raters
    and dust, from the pool's ledger entries.

    Args:
        queries: The node's read models.
        pool_id: The pool.
        open_epoch: Add the open epoch (entries not closed yet) last, when it has entries.

    Returns:
        One split per closed epoch in order (epochs whose file cannot be read are merged with
        the next readable one), then the open epoch's.
    """
    entries = queries.ledger(pool_id)
    out: list[EpochSplit] = []
    waiting: list[int] = []
    start = 0
    for epoch, last in epoch_bounds(queries, pool_id):
        waiting.append(epoch)
        if last is None:
            continue
        end = start
        while end < len(entries) and int(entries[end]["seq"]) <= last:
            end += 1
        out.append(_split_of(tuple(waiting), entries[start:end]))
        start, waiting = end, []
    if waiting:  # the latest epochs' files are unreadable: their entries cannot be told apart
        closed = len(entries) - len(queries.open_ledger(pool_id))
        out.append(_split_of(tuple(waiting), entries[start:closed]))
        start = closed
    if open_epoch and entries[start:]:
        out.append(_split_of((), entries[start:]))
    return out


def earnings_points(
    queries: QueryService, onchain: OnchainService, pool_id: int,
    splits: Sequence[EpochSplit] | None = None,
) -> list[EarningsPoint]:  # fmt: skip
    """Per closed epoch: contributors' earnings and all credited earnings from the ledger, and
    the cumulative total the chain holds for its root.

    Args:
        queries: The node's read models.
        onchain: What the chain says.
        pool_id: The pool.
        splits: The pool's :func:`revenue_split`, if already computed.
    """
    rows = list(splits) if splits is not None else revenue_split(queries, pool_id)
    out: list[EarningsPoint] = []
    running = 0
    for split in rows:
        if not split.epochs:
            continue
        running += split.credited
        epoch = split.epochs[-1]
        posted = int(onchain.epoch_root(pool_id, epoch).total_cumulative)
        out.append(EarningsPoint(epoch, split.contributors, split.credited, running, posted))
    return out


# ------------------------------------------------------------------------ spend over time


def bucket_seconds(first: int, last: int, most: int = 24) -> int:
    """The interval that puts ``[first, last]`` in at most ``most`` buckets: an hour, a day, a
    week, or a whole number of weeks."""
    span = max(0, last - first)
    for size in (HOUR, DAY, WEEK):
        if span // size < most:
            return size
    return WEEK * (span // (WEEK * most) + 1)


def spend_buckets(
    queries: QueryService, pool_id: int | None = None, *, consumer: str | None = None,
    most: int = 24,
) -> list[SpendBucket]:  # fmt: skip
    """Consumers' payments (searches and predictions) per interval of chain time, every
    interval from the first call's to the last's (empty ones too).

    Args:
        queries: The node's read models.
        pool_id: One pool, or all.
        consumer: One consumer, or all.
        most: At most this many buckets (see :func:`bucket_seconds`).
    """
    calls = [e for e in queries.ledger(pool_id, consumer=consumer) if e["kind"] in CALL_KINDS]
    if not calls:
        return []
    times = [int(e["time"]) for e in calls]
    size = bucket_seconds(min(times), max(times), most)
    first = min(times) // size * size
    count = (max(times) - first) // size + 1
    sums = [[0, 0, 0] for _ in range(count)]
    for e in calls:
        row = sums[(int(e["time"]) - first) // size]
        row[0 if e["kind"] == "search" else 1] += int(e["price"])
        row[2] += 1
    return [SpendBucket(first + i * size, size, s, p, n) for i, (s, p, n) in enumerate(sums)]


# ---------------------------------------------------------------- records and models


def quality_mix(queries: QueryService, pool_id: int) -> list[QualitySlice]:
    """The pool's records by status, quarantined and rejected ones by reason code (as
    :func:`fairwheel.node.queries.reason_code`; most frequent first)."""
    counts = queries.status_counts(pool_id)
    out = [QualitySlice("accepted", None, int(counts.get("accepted", 0)))]
    for status in ("quarantined", "rejected"):
        if not counts.get(status):
            continue
        by: dict[str, int] = {}
        for r in queries.records(pool_id, status):
            code = reason_code(r["status"], r["reasons"]) or "unknown"
            by[code] = by.get(code, 0) + 1
        ranked = sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))
        out += [QualitySlice(status, code, n) for code, n in ranked]
    if counts.get("revoked"):
        out.append(QualitySlice("revoked", None, int(counts["revoked"])))
    return out


def model_points(queries: QueryService, pool_id: int) -> list[ModelPoint]:
    """Every model version of the pool, oldest first, with its held-out accuracy and whether
    it is the version the pool serves."""
    from fairwheel.errors import NotFound

    try:
        serving: int | None = int(queries.serving_model(pool_id)["id"])
    except NotFound:
        serving = None
    out = []
    for model in queries.models(pool_id):
        value = (model["metrics"] or {}).get("accuracy")
        accuracy = float(value) if isinstance(value, int | float) else None
        out.append(
            ModelPoint(int(model["version"]), accuracy, int(model["id"]) == serving,
                       str(model["trigger"]))
        )  # fmt: skip
    return out
