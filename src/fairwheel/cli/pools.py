"""``fairwheel pool …``: create, list, show, update, pause, unpause and review a node's pools.

Every verb opens the node at ``--home`` (default ``FAIRWHEEL_HOME``, ``~/.fairwheel``) on its
configured chain, does one thing through the node's services and prints JSON (``list``: one
line per pool). Numbers are read here, not by the option parser, so that bad input — a price
that is not a whole number, a negative one, basis points over 10,000, an unknown pool or
record — is one ``error: …`` line and exit code 1. Money is integer token base units.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairwheel.cli._shared import (
    HomeOption,
    echo_json,
    fail,
    known_pool,
    node_at,
    pool_id,
    run_or_exit,
    whole,
)

if TYPE_CHECKING:
    from fairwheel.node import Node

pool_app = typer.Typer(
    help="Pools: create, list, show, update, pause, unpause, review.", no_args_is_help=True
)

MAX_BPS = 10_000

PoolArgument = Annotated[str, typer.Argument(help="Pool id (see `fairwheel pool list`).")]
PRICE_HELP = "in token base units, a whole number >= 0"
BPS_HELP = "basis points, 0..10000"


# ----------------------------------------------------------------------------- reading input


def amount(value: str, flag: str) -> int:
    """A price or budget: a whole number of token base units, not negative."""
    number = whole(value, flag, what="a whole number of token base units")
    if number < 0:
        fail(f"{flag} {value}: an amount cannot be negative (give token base units >= 0)")
    return number


def bps(value: str, flag: str) -> int:
    """Basis points: a whole number within 0..10000 (100% is 10000)."""
    number = whole(value, flag, what="a whole number of basis points")
    if not 0 <= number <= MAX_BPS:
        fail(f"{flag} {value}: basis points run from 0 to {MAX_BPS} (10000 is 100%)")
    return number


def record_id(value: str, flag: str) -> int:
    """A record id: a whole number >= 1."""
    number = whole(value, flag)
    if number < 1:
        fail(f"{flag} {value}: record ids start at 1 (see `fairwheel pool review POOL`)")
    return number


def label_list(value: str | None) -> list[str]:
    """``a,b,c`` as distinct, non-empty labels."""
    if value is None:
        return []
    labels = [part.strip() for part in value.split(",")]
    if any(not label for label in labels):
        fail(f"--labels {value!r}: an empty label (give distinct names separated by commas)")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        fail(f"--labels {value!r}: {', '.join(twice)} given twice (labels must be distinct)")
    return labels


# ------------------------------------------------------------------------------ the node


def known_record(node: Node, rid: int, pid: int, flag: str) -> None:
    """Exit with one line if ``rid`` is not a record of pool ``pid``."""
    from fairwheel.errors import NotFound

    try:
        owner = node.queries.record(rid)["pool_id"]
    except NotFound:
        fail(f"{flag} {rid}: no such record (`fairwheel pool review {pid}` lists the queue)")
    if int(owner) != pid:
        fail(f"{flag} {rid}: record {rid} is in pool {owner}, not pool {pid}")


def pool_view(node: Node, pid: int) -> dict[str, Any]:
    """A pool as stored, with whether it is paused on-chain."""
    return {**node.queries.pool(pid), "paused": node.pools.is_paused(pid)}


# ------------------------------------------------------------------------------ the verbs


@pool_app.command("create")
def pool_create(
    name: Annotated[str, typer.Argument(help="The pool's name.")],
    search_price: Annotated[str, typer.Option(help=f"Price of one search, {PRICE_HELP}.")],
    predict_price: Annotated[str, typer.Option(help=f"Price of one prediction, {PRICE_HELP}.")],
    operator_fee_bps: Annotated[str, typer.Option(help=f"Operator's fee, {BPS_HELP}.")],
    builder_share_bps: Annotated[
        str, typer.Option(help=f"Model builders' share of predictions, {BPS_HELP}.")
    ],
    labels: Annotated[
        str | None, typer.Option(help="The pool's label set, comma-separated (a,b,c).")
    ] = None,
    licence: Annotated[str, typer.Option(help="The licence contributors consent to.")] = (
        "CC-BY-4.0"
    ),
    labeler_share_bps: Annotated[
        str, typer.Option(help=f"Labelers' part of a labelled record's earnings, {BPS_HELP}.")
    ] = "0",
    guardian: Annotated[
        str | None,
        typer.Option(help="The key that may pause the pool (default: the node's operator)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Create a pool on-chain, operated by the node's key, and print it.

    Prices and the fee split are fixed for the pool's life (PoolRegistry has no call to change
    them); a pool with other terms is a new pool.
    """
    terms = {
        "search_price": amount(search_price, "--search-price"),
        "predict_price": amount(predict_price, "--predict-price"),
        "operator_fee_bps": bps(operator_fee_bps, "--operator-fee-bps"),
        "builder_share_bps": bps(builder_share_bps, "--builder-share-bps"),
        "labeler_share_bps": bps(labeler_share_bps, "--labeler-share-bps"),
    }
    if terms["operator_fee_bps"] + terms["builder_share_bps"] > MAX_BPS:
        total = terms["operator_fee_bps"] + terms["builder_share_bps"]
        fail(f"--operator-fee-bps + --builder-share-bps is {total}, over {MAX_BPS} (the whole "
             "price): lower one of them")  # fmt: skip
    names = label_list(labels)
    if not name.strip():
        fail("NAME is empty: give the pool a name")
    if not licence.strip():
        fail("--licence is empty: name the licence contributors consent to (e.g. CC-BY-4.0)")
    if guardian is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", guardian):
        fail(f"--guardian {guardian!r} is not an address (0x and 40 hex digits)")
    with node_at(home) as node:
        pool = run_or_exit(lambda: node.create_pool(name, labels=names, licence=licence,
                                                    guardian=guardian, **terms))  # fmt: skip
        echo_json(pool_view(node, pool["id"]))


@pool_app.command("list")
def pool_list(home: HomeOption = None) -> None:
    """Every pool of the node, oldest first: one JSON line each, with whether it is paused."""
    with node_at(home) as node:
        for pool in run_or_exit(node.queries.pools):
            typer.echo(json.dumps(pool_view(node, pool["id"]), default=str))


@pool_app.command("show")
def pool_show(pool: PoolArgument, home: HomeOption = None) -> None:
    """One pool: its terms, on-chain state, records by status, review queue and budget."""
    pid = pool_id(pool)
    with node_at(home) as node:
        known_pool(node, pid)

        def work() -> dict[str, Any]:
            view = pool_view(node, pid)
            onchain = node.onchain.pool_info(pid)
            per_epoch, dust = node.queries.feedback_budget(pid)
            return {
                **view,
                "onchain": {
                    "operator": onchain.operator,
                    "guardian": onchain.guardian,
                    "token": onchain.token,
                    "metadata_hash": "0x" + bytes(onchain.metadata_hash).hex(),
                    "batches": onchain.batch_count,
                    "models": onchain.model_count,
                },
                "records": node.queries.status_counts(pid),
                "pending_anchors": node.queries.pending_anchors(pid),
                "review_queue": len(node.review_queue(pid)),
                "epochs": node.queries.epoch_count(pid),
                "feedback_budget": {"per_epoch": per_epoch, "dust": dust},
            }

        echo_json(run_or_exit(work))


@pool_app.command("update")
def pool_update(
    pool: PoolArgument,
    feedback_budget: Annotated[
        str | None,
        typer.Option(help="Token base units paid to raters per epoch, from the operator's escrow."),
    ] = None,
    search_price: Annotated[str | None, typer.Option(help="Fixed on-chain: refused.")] = None,
    predict_price: Annotated[str | None, typer.Option(help="Fixed on-chain: refused.")] = None,
    operator_fee_bps: Annotated[str | None, typer.Option(help="Fixed on-chain: refused.")] = None,
    builder_share_bps: Annotated[str | None, typer.Option(help="Fixed on-chain: refused.")] = None,
    labels: Annotated[str | None, typer.Option(help="Bound into the metadata: refused.")] = None,
    licence: Annotated[str | None, typer.Option(help="Bound into the metadata: refused.")] = None,
    home: HomeOption = None,
) -> None:
    """Change what can change about a pool, and print it: its feedback budget.

    A pool's prices and fee split are stored once by PoolRegistry.createPool, which has no call
    to change them, and its name, labels and licence are bound into its on-chain metadata hash:
    asking to change one is refused with the reason (create a new pool instead).
    Pause and unpause are `fairwheel pool pause|unpause`.
    """
    pid = pool_id(pool)
    fixed: dict[str, object] = {}
    for flag, value, read in (("--search-price", search_price, amount),
                              ("--predict-price", predict_price, amount),
                              ("--operator-fee-bps", operator_fee_bps, bps),
                              ("--builder-share-bps", builder_share_bps, bps)):  # fmt: skip
        if value is not None:
            fixed[flag[2:].replace("-", "_")] = read(value, flag)
    if labels is not None:
        fixed["labels"] = label_list(labels)
    if licence is not None:
        fixed["licence"] = licence
    budget = None if feedback_budget is None else amount(feedback_budget, "--feedback-budget")
    if budget is None and not fixed:
        fail("nothing to change: give --feedback-budget N (prices, the fee split, labels and "
             "licence are fixed at creation)")  # fmt: skip
    with node_at(home) as node:
        known_pool(node, pid)

        def work() -> dict[str, Any]:
            node.pools.update_pool(pid, feedback_budget=budget, **fixed)
            per_epoch, dust = node.queries.feedback_budget(pid)
            return {**pool_view(node, pid), "feedback_budget": {"per_epoch": per_epoch,
                                                                 "dust": dust}}  # fmt: skip

        echo_json(run_or_exit(work))


@pool_app.command("pause")
def pool_pause(pool: PoolArgument, home: HomeOption = None) -> None:
    """Pause the pool on-chain as its guardian (the node's key by default).

    A pause stops anchoring, model registration, deposits, epoch roots and new stakes; never
    revocations, voucher redemptions, withdrawals or claims.
    """
    _set_paused(pool, home, paused=True)


@pool_app.command("unpause")
def pool_unpause(pool: PoolArgument, home: HomeOption = None) -> None:
    """Lift the pool's pause on-chain as its guardian."""
    _set_paused(pool, home, paused=False)


def _set_paused(pool: str, home: Path | None, *, paused: bool) -> None:
    pid = pool_id(pool)
    with node_at(home) as node:
        known_pool(node, pid)
        send = node.pools.pause if paused else node.pools.unpause
        tx = run_or_exit(lambda: send(pid))
        echo_json({"pool_id": pid, "paused": paused, "tx_hash": tx})


@pool_app.command("review")
def pool_review(
    pool: PoolArgument,
    accept: Annotated[
        str | None, typer.Option(help="Accept this record: indexed and paid from the next call.")
    ] = None,
    reject: Annotated[
        str | None, typer.Option(help="Quarantine this record: never served, earns nothing.")
    ] = None,
    note: Annotated[str, typer.Option(help="Why (stored with the record's reasons).")] = "",
    home: HomeOption = None,
) -> None:
    """The pool's review queue (one JSON line per record, oldest first), or a decision on one
    record with --accept RECORD or --reject RECORD. Rescoring keeps a reviewer's decision."""
    pid = pool_id(pool)
    if accept is not None and reject is not None:
        fail("give --accept or --reject, not both")
    flag, chosen = ("--accept", accept) if accept is not None else ("--reject", reject)
    rid = None if chosen is None else record_id(chosen, flag)
    if len(note) > 500:
        fail(f"--note is {len(note)} characters: keep it within 500")
    with node_at(home) as node:
        known_pool(node, pid)
        if rid is None:
            for rec in run_or_exit(lambda: node.review_queue(pid)):
                typer.echo(json.dumps({k: rec.get(k) for k in _QUEUE_FIELDS}, default=str))
            return
        known_record(node, rid, pid, flag)
        change = run_or_exit(lambda: node.review(rid, release=accept is not None, note=note))
        echo_json({"pool_id": pid, "record_id": rid, "before": change.before,
                   "after": change.after, "reasons": list(change.reasons)})  # fmt: skip


_QUEUE_FIELDS = ("id", "status", "score", "reasons", "contributor", "label", "preview")
