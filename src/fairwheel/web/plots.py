"""The plots of a pool on the pool and operator pages, drawn from the node's read models
(:mod:`fairwheel.node.insights`: the ledger, the epochs and their roots on-chain, the records
and the models), after the market report of ``fairwheel demo --epochs N`` (``sim/report.py``):

* earnings per epoch: credited in the ledger (contributors, builder, labelers, raters), with
  the cumulative credited and the cumulative total of each epoch's root on-chain;
* spend over time: consumers' payments per interval of chain time, searches and predictions;
* the revenue split per epoch (contributors, operator fee, builder, labelers, raters, dust),
  with its table in base units and whether the parts add up to the revenue;
* the quality mix: accepted, quarantined and rejected records by reason;
* model accuracy by version, the serving version marked.

And the operator's chain health: the chain, the operator key's balances and the fee advice,
gas used, pending anchors, background jobs and each pool's last epoch close.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fairwheel.node.insights import (
    DAY,
    HOUR,
    SPLIT_PARTS,
    EpochSplit,
    earnings_points,
    model_points,
    quality_mix,
    revenue_split,
    spend_buckets,
)
from fairwheel.web.charts import PALETTE, bar_chart, column_chart
from fairwheel.web.common import tokens

if TYPE_CHECKING:
    from fairwheel.node import Node

__all__ = ["TITLES", "chain_health", "pool_plots"]

#: The plots' titles (each the chart's ``aria-label``), by key.
TITLES = {
    "earnings": "Earnings posted per epoch (ledger and chain)",
    "spend": "Spend over time (consumers' payments)",
    "split": "Revenue split per epoch",
    "quality": "Records by status and reason (quality mix)",
    "accuracy": "Model accuracy over versions",
}
_STATUS_COLORS = {
    "accepted": "#16a34a",
    "quarantined": "#d97706",
    "rejected": "#dc2626",
    "revoked": "#64748b",
}
_SPLIT_COLORS = ("#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#94a3b8")


def fair(units: float) -> str:
    """Base units as ``1.5 FAIR``."""
    return f"{tokens(int(units))} FAIR"


def _bucket_label(start: int, seconds: int) -> str:
    when = datetime.fromtimestamp(start, UTC)
    if seconds <= HOUR:
        return when.strftime("%m-%d %H:00")
    if seconds <= DAY:
        return when.strftime("%Y-%m-%d")
    return "wk " + when.strftime("%Y-%m-%d")


def _split_rows(splits: list[EpochSplit]) -> list[dict[str, Any]]:
    return [
        {"label": s.label, "calls": s.calls, "revenue": s.revenue, "parts": s.parts,
         "balanced": s.balanced, "first_seq": s.first_seq, "last_seq": s.last_seq}
        for s in splits
    ]  # fmt: skip


def pool_plots(node: Node, pool_id: int) -> dict[str, Any]:
    """The pool's plots (SVG markup, by key of :data:`TITLES`) and the figures behind them.

    Returns:
        ``earnings``, ``spend``, ``split``, ``quality`` and ``accuracy`` (charts), ``splits``
        (the split table's rows, base units), ``rejected`` (``(reason, count)`` pairs, the
        quality chart's summary) and ``earnings_rows`` (:class:`EarningsPoint` per epoch).
    """
    splits = revenue_split(node.queries, pool_id)
    earned = earnings_points(node.queries, node.onchain, pool_id, splits)
    spend = spend_buckets(node.queries, pool_id)
    mix = quality_mix(node.queries, pool_id)
    models = model_points(node.queries, pool_id)

    # Earnings: credited per epoch (stacked by beneficiary), cumulative lines.
    closed = [s for s in splits if s.epochs]
    cats = [s.label for s in closed]
    earnings = column_chart(
        cats,
        {
            "contributors": [s.contributors for s in closed],
            "builder": [s.builder for s in closed],
            "labelers": [s.labelers for s in closed],
            "raters": [s.raters for s in closed],
        },
        lines={
            "credited, cumulative": [p.credited_cumulative for p in earned],
            "root total on-chain": [p.posted_cumulative for p in earned],
        },
        title=TITLES["earnings"], y_label="FAIR", fmt=fair,
        colors=("#2563eb", "#7c3aed", "#0891b2", "#db2777", "#16a34a", "#dc2626"),
    )  # fmt: skip
    spend_chart = column_chart(
        [_bucket_label(b.start, b.seconds) for b in spend],
        {"searches": [b.search for b in spend], "predictions": [b.predict for b in spend]},
        title=TITLES["spend"], y_label="FAIR", fmt=fair, colors=("#2563eb", "#16a34a"),
    )  # fmt: skip
    split_chart = column_chart(
        [s.label for s in splits],
        {legend: [s.parts[name] for s in splits] for name, legend in SPLIT_PARTS},
        title=TITLES["split"], y_label="FAIR", fmt=fair, colors=_SPLIT_COLORS,
    )  # fmt: skip
    quality = bar_chart(
        [(q.label, float(q.count)) for q in mix if q.count],
        title=TITLES["quality"],
        colors=[_STATUS_COLORS.get(q.status, PALETTE[0]) for q in mix if q.count],
    )
    accuracy = column_chart(
        [f"v{p.version}" for p in models],
        {
            "serving": [(p.accuracy or 0.0) if p.serving else 0.0 for p in models],
            "other versions": [0.0 if p.serving else (p.accuracy or 0.0) for p in models],
        },
        notes=["serving" if p.serving else ("no metrics" if p.accuracy is None else "")
               for p in models],
        title=TITLES["accuracy"], y_label="hold-out accuracy", y_max=1.0,
        fmt=lambda v: f"{v:.3f}", colors=("#16a34a", "#94a3b8"),
    )  # fmt: skip
    return {
        "earnings": earnings,
        "spend": spend_chart,
        "split": split_chart,
        "quality": quality,
        "accuracy": accuracy,
        "splits": _split_rows(splits),
        "rejected": [(q.reason, q.count) for q in mix if q.status == "rejected"],
        "quarantined": [(q.reason, q.count) for q in mix if q.status == "quarantined"],
        "earnings_rows": earned,
    }


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def chain_health(node: Node, operator: str) -> dict[str, Any]:
    """What an operator watches of the chain and the node's background work.

    Args:
        node: The node.
        operator: The operator key's address.

    Returns:
        ``chain`` (block, chain id, chain time, embedded), ``key`` (the operator key's ETH and
        token balances, nonce and the fee advice, or None when the chain does not answer),
        ``gas`` (per operation of this process: transactions, last and mean gas used),
        ``pools`` (per pool: pending anchors and the oldest one's age, the last epoch close,
        the open epoch's calls and settlement warnings) and ``jobs`` (the background jobs'
        last runs).
    """
    health = node.health()
    now = time.time()
    out: dict[str, Any] = {"chain": {"ok": health.checks["chain"].ok, "block": health.block,
                                     "chain_id": health.chain_id,
                                     "embedded": health.embedded_chain,
                                     "detail": health.checks["chain"].detail,
                                     "time": None}, "key": None}  # fmt: skip
    with contextlib.suppress(Exception):  # the chain is down: health says why
        out["chain"]["time"] = node.onchain.now()
        facts = node.onchain.account(operator)
        out["key"] = {"address": facts.address, "eth": facts.eth_balance,
                      "tokens": facts.token_balance, "nonce": facts.nonce,
                      "max_fee_gwei": facts.max_fee_per_gas / 1e9,
                      "tip_gwei": facts.max_priority_fee_per_gas / 1e9}  # fmt: skip
    out["gas"] = [
        {"operation": op, "count": len(used), "last": used[-1], "mean": sum(used) // len(used)}
        for op, used in sorted(node.gas.items())
        if used
    ]
    pools = []
    for pool in node.queries.pools():
        pid = int(pool["id"])
        waiting = node.queries.unanchored(pid)
        last = node.queries.last_epoch(pid)
        running = node.queries.open_fold(pid)
        warnings: list[str] = []
        with contextlib.suppress(Exception):
            warnings = node.settlement_warnings(pid)
        pools.append({
            "id": pid, "name": pool["name"], "pending": len(waiting),
            "oldest": _ago(now - min(float(r["created_at"]) for r in waiting)) if waiting else None,
            "last_epoch": None if last is None else int(last["epoch"]),
            "closed": None if last is None else _ago(now - float(last["closed_at"])),
            "tx": None if last is None else last["tx_hash"],
            "open_calls": 0 if running is None else int(running["entries"]),
            "warnings": warnings,
        })  # fmt: skip
    out["pools"] = pools
    out["jobs"] = [
        {**run, "ago": _ago(now - float(run["finished"] or run["started"])),
         "seconds": max(0.0, float(run["finished"]) - float(run["started"]))}
        for run in node.queries.job_runs()
    ]  # fmt: skip
    return out
