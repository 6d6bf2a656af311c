"""``fairwheel demo --epochs N``: a simulated market turning the flywheel for N epochs.

Each epoch, on the node's real parts (embedded chain and contracts, real embedder, store,
index): contributors join at a rate that follows what earlier contributors earned; honest
contributors and three attackers (near copies, junk, poisoned labels) submit under signed
consent; the node anchors, retrains when new data, feedback or a revocation calls for it, and
promotes only versions that do not regress; consumers — as many as the serving model's
accuracy attracts — pay for predictions (some in arena mode) and searches and rate the answers
(one of them rates at random); a contributor revokes a record; a demand pool lets consumers
publish needs that producers pay to match; raters are paid; both pools' epochs are closed and
their roots posted; every earner claims.

The report is read back from the ledger, the epoch files and the chain — never from the
simulator's own bookkeeping: see :func:`_epoch_row`.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairwheel.sim.data import Example

TOKEN = 10**18
SEARCH_PRICE = 2 * 10**15 + 3
PREDICT_PRICE = 5 * 10**15 + 7
MATCH_PRICE = 10**15 + 1
JOIN_REFERENCE = 10**16  # 0.01 FAIR of average honest earnings per newcomer
ATTACKERS = ("near_copy", "junk", "poison")


@dataclass
class MarketConfig:
    """Knobs of the simulated market."""

    home: Path
    epochs: int = 5
    data: Path | None = None
    text_col: str = "text"
    label_col: str | None = None
    seed: int = 7
    embedder_url: str = "minilm://onnx"
    # embedded:// ends with the run; anvil:// keeps the chain in the home, so a kept home
    # reopens with the normal verbs (``fairwheel demo --keep`` / ``--home``).
    chain_url: str = "embedded://"
    first_contributors: int = 6
    founding_rows: int = 30  # per founding contributor, epoch 1
    rows_per_contributor: int = 12  # per contributor and later epoch
    attack_rows: int = 8  # per attacker and epoch
    consumers: int = 3
    calls_per_consumer: int = 8  # at the reference accuracy
    needs_per_epoch: int = 6  # demand pool
    report: Path | None = None


@dataclass
class MarketResult:
    checks: dict[str, bool] = field(default_factory=dict)
    rows: list[Any] = field(default_factory=list)
    report: Path | None = None

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


@dataclass
class _World:
    node: Any
    pool: int
    demand: int
    rng: random.Random
    examples: list[Example]
    test: list[Example]
    labels: list[str]
    honest: list[Any] = field(default_factory=list)
    attackers: dict[str, Any] = field(default_factory=dict)
    consumers: list[Any] = field(default_factory=list)
    spammer: Any = None
    builder: Any = None
    revoked: list[int] = field(default_factory=list)
    served_after_revoke: int = 0
    first_seen: dict[str, int] = field(default_factory=dict)


def run_market(
    cfg: MarketConfig,
    say: Callable[[str], None] = print,
    on_epoch: Callable[[Any, int], None] | None = None,
) -> MarketResult:
    """Run the market for ``cfg.epochs`` epochs; write the HTML report; return the checks.

    ``on_epoch(world, epoch)`` runs after each epoch is settled (benchmarks measure there;
    ``world`` holds the node, the pool ids and the participants' wallets).
    """
    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from fairwheel.sim.report import ReportInput, write_report

    started = time.perf_counter()
    world = _setup(Node.open(load_settings(home=cfg.home, chain_url=cfg.chain_url,
                                           embedder_url=cfg.embedder_url)), cfg)  # fmt: skip
    result = MarketResult()
    for epoch in range(1, cfg.epochs + 1):
        ledger_before = {p: len(world.node.queries.ledger(p)) for p in (world.pool, world.demand)}
        joined = _join(world, cfg, epoch)
        versions_before = len(world.node.queries.models(world.pool))
        revocations = _contribute(world, cfg, epoch)
        world.node.upkeep(world.pool, world.builder.address)
        _consume(world, cfg)
        _demand(world, cfg)
        world.node.pay_raters(world.pool)
        reports = {p: world.node.close_epoch(p) for p in (world.pool, world.demand)}
        _claim_all(world, reports)
        row = _epoch_row(world, epoch, ledger_before, reports, joined, revocations, versions_before)
        result.rows.append(row)
        if on_epoch is not None:
            on_epoch(world, epoch)
        accuracy = float("nan") if row.model_accuracy is None else row.model_accuracy
        say(f"epoch {epoch}: {row.accepted_records} accepted records, {row.calls} paid calls, "
            f"accuracy {accuracy:.3f}, "
            f"revenue {row.revenue / TOKEN:.4f} FAIR, attackers earned {row.attacker_earnings}, "
            f"root {row.epoch_root[:14]}…")  # fmt: skip
    result.checks.update(_checks(world, result.rows))
    honest = sum(r.honest_earnings for r in result.rows)
    attack = sum(r.attacker_earnings for r in result.rows)
    share = attack / (honest + attack) if honest + attack else 0.0
    notes = [
        f"{cfg.epochs} epochs on {'synthetic support queries' if cfg.data is None else cfg.data}; "
        f"{time.perf_counter() - started:.0f} s.",
        f"Attackers' share of contributors' earnings over all epochs: {share:.3%}.",
        f"Revoked records served after their revocation: {world.served_after_revoke}.",
    ]
    report = ReportInput(
        title=f"Fairwheel market: {cfg.epochs} epochs",
        epochs=result.rows,
        source="Every figure is read from the node's hash-chained ledger, its epoch files and "
        "the chain (roots, funding, claims); none from the simulator's intentions.",
        checks=result.checks,
        notes=notes,
    )
    result.report = write_report(report, cfg.report or cfg.home / "market-report.html")
    for name, ok in result.checks.items():
        say(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    say(f"report written to {result.report}")
    world.node.close()
    return result


def _setup(node: Any, cfg: MarketConfig) -> _World:
    from fairwheel.sim.data import load_csv, synthetic_support_queries
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    rng = random.Random(cfg.seed)
    if cfg.data is not None:
        examples = load_csv(cfg.data, cfg.text_col, cfg.label_col)
    else:
        examples = synthetic_support_queries(2000, cfg.seed)
    rng.shuffle(examples)
    test, examples = examples[:200], examples[200:]
    labels = sorted({e.label for e in examples})
    pool = int(node.create_pool("support-intents", search_price=SEARCH_PRICE,
                                predict_price=PREDICT_PRICE, operator_fee_bps=1000,
                                builder_share_bps=2000, labels=labels)["id"])  # fmt: skip
    demand = int(node.create_pool("demand: consumers' needs", search_price=MATCH_PRICE,
                                  predict_price=MATCH_PRICE, operator_fee_bps=1000,
                                  builder_share_bps=0)["id"])  # fmt: skip
    world = _World(node, pool, demand, rng, examples, test, labels)
    testchain = node.testchain
    domain, vdomain = node.consent_domain(), node.voucher_domain()
    world.attackers = {k: ContributorWallet(testchain.new_account(), domain) for k in ATTACKERS}
    world.builder = testchain.new_account()
    for i in range(cfg.consumers + 1):
        wallet = ConsumerWallet(testchain.new_account(), vdomain)
        testchain.faucet(wallet.address, 1000 * TOKEN, 0)
        for p in (pool, demand):
            testchain.deposit(p, 100 * TOKEN, wallet.account)
        if i == cfg.consumers:
            world.spammer = wallet  # rates at random
        else:
            world.consumers.append(wallet)
    testchain.faucet(node.operator.address, 1000 * TOKEN, 0)
    testchain.deposit(pool, 100 * TOKEN, node.operator)
    node.set_feedback_budget(pool, 10**16 + 11)
    return world


def _join(world: _World, cfg: MarketConfig, epoch: int) -> int:
    """New contributors follow what the previous epoch paid an honest contributor."""
    from fairwheel.wallet import ContributorWallet

    if epoch == 1:
        joining = cfg.first_contributors
    else:
        last = world.node.queries.last_epoch(world.pool)
        earned = world.node.queries.earnings(world.pool, int(last["epoch"])) if last else {}
        mine = [earned.get(w.address.lower(), 0) for w in world.honest]
        average = sum(mine) / max(1, len(mine))
        # Newcomers follow the last epoch's pay: one per 0.01 FAIR an honest contributor earned
        # on average (at most 6).
        joining = max(0, min(6, round(average / JOIN_REFERENCE)))
    for _ in range(joining):
        wallet = ContributorWallet(world.node.testchain.new_account(), world.node.consent_domain())
        world.honest.append(wallet)
        world.first_seen[wallet.address.lower()] = epoch
    return joining


def _contribute(world: _World, cfg: MarketConfig, epoch: int) -> int:
    """Honest rows; from epoch 2 three attackers and one revocation; returns revocations."""
    from fairwheel.quality.synthetic import flip_label, junk_text, near_copy

    node, rng, now = world.node, world.rng, world.node.onchain.now()
    subs = []
    # The founders seed the pool; attackers come once it earns (from epoch 2).
    rows = cfg.founding_rows if epoch == 1 else cfg.rows_per_contributor
    for wallet in world.honest:
        for _ in range(rows):
            if world.examples:
                e = world.examples.pop()
                subs.append(wallet.submission(world.pool, e.text, e.label, now=now))
    accepted = node.queries.records(world.pool, "accepted")
    vocabulary = sorted({w for r in accepted for w in node.record_preview(r).lower().split()})
    for _ in range(cfg.attack_rows if epoch > 1 else 0):
        if accepted:
            src = rng.choice(accepted)
            text = node.record_text(src["id"])
            subs.append(world.attackers["near_copy"].submission(
                world.pool, near_copy(text, rng), src["label"], now=now))  # fmt: skip
        subs.append(world.attackers["junk"].submission(
            world.pool, junk_text(rng, vocabulary), rng.choice(world.labels), now=now))  # fmt: skip
        if world.examples:
            e = world.examples.pop()
            subs.append(world.attackers["poison"].submission(
                world.pool, e.text, flip_label(e.label, world.labels, rng), now=now))  # fmt: skip
    rng.shuffle(subs)
    for start in range(0, len(subs), 64):
        node.submit(world.pool, subs[start : start + 64])
    node.anchor(world.pool)
    if epoch == 1:
        return 0
    # An honest contributor revokes one anchored record.
    mine = [r for r in node.queries.records(world.pool, "accepted") if r["batch_id"] is not None
            and r["contributor"] in {w.address.lower() for w in world.honest}]  # fmt: skip
    if not mine:
        return 0
    rec = rng.choice(mine)
    owner = next(w for w in world.honest if w.address.lower() == rec["contributor"])
    node.revoke(rec["id"], owner.account)
    world.revoked.append(int(rec["id"]))
    return 1


def _consume(world: _World, cfg: MarketConfig) -> None:
    """Demand follows model quality: calls scale with the serving version's accuracy."""
    from fairwheel.errors import NotFound

    node, rng = world.node, world.rng
    try:
        accuracy = float(node.queries.serving_model(world.pool)["metrics"]["accuracy"])
    except NotFound:
        accuracy = 0.0
    calls = max(1, round(cfg.calls_per_consumer * accuracy / 0.8))
    arena_ok = len(node.queries.models(world.pool)) >= 2
    for wallet in [*world.consumers, world.spammer]:
        for i in range(calls):
            q = rng.choice(world.test)
            if accuracy > 0:
                arena = arena_ok and i % 3 == 0
                voucher, sig = wallet.pay(world.pool, PREDICT_PRICE)
                out = node.predict(world.pool, q.text, voucher, sig, arena=arena)
                wallet.confirm(voucher)
                if wallet is world.spammer:
                    kind, value = (
                        ("arena", rng.randrange(2)) if arena else ("thumbs", rng.choice((-1, 1)))
                    )
                elif arena:
                    right = [a["answer"] == q.label for a in out.arena]
                    kind, value = "arena", (right.index(True) if any(right) and not all(right)
                                            else rng.randrange(2))  # fmt: skip
                else:
                    kind, value = "thumbs", 1 if out.prediction == q.label else -1
                if i % 4 == 0 and not arena:  # the operator's hidden gold questions
                    node.set_gold(out.seq, out.prediction == q.label)
                node.rate(out.seq, wallet.address, kind, value)
            voucher, sig = wallet.pay(world.pool, SEARCH_PRICE)
            hits = node.search(world.pool, q.text, 5, voucher, sig)
            wallet.confirm(voucher)
            world.served_after_revoke += sum(h.record_id in world.revoked for h in hits.hits)
            good = any(h.label == q.label for h in hits.hits[:3])
            rating = rng.choice((-1, 1)) if wallet is world.spammer else (1 if good else -1)
            node.rate(hits.seq, wallet.address, "thumbs", rating)


def _demand(world: _World, cfg: MarketConfig) -> None:
    """Consumers publish needs (signed consent, like any record); producers pay to match."""
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    node, rng, now = world.node, world.rng, world.node.onchain.now()
    subs = []
    for wallet in world.consumers:
        publisher = ContributorWallet(wallet.account, node.consent_domain())
        for _ in range(max(1, cfg.needs_per_epoch // len(world.consumers))):
            q = rng.choice(world.test)
            subs.append(publisher.submission(world.demand, f"need: {q.text}", None, now=now))
    node.submit(world.demand, subs)
    node.anchor(world.demand)
    producers = world.honest[: max(1, len(world.honest) // 3)]
    for producer in producers:
        payer = ConsumerWallet(producer.account, node.voucher_domain())
        payer.spent[world.demand] = node.spent(world.demand, producer.address)
        if node.onchain.escrow_balance(world.demand, producer.address) < 10 * MATCH_PRICE:
            node.testchain.faucet(producer.address, 10 * TOKEN, 0)
            node.testchain.deposit(world.demand, 10 * TOKEN, producer.account)
        offer = rng.choice(world.test)
        voucher, sig = payer.pay(world.demand, MATCH_PRICE)
        node.search(world.demand, f"offer: help with {offer.text}", 3, voucher, sig)


def _claim_all(world: _World, reports: dict[int, Any]) -> None:
    node = world.node
    node.testchain.activate_epochs()
    for pool, report in reports.items():
        for account, cumulative in report.earnings.items():
            if cumulative > node.onchain.claimed(pool, account):
                node.claim(pool, account, sender=node.operator)


def _epoch_row(
    world: _World, epoch: int, before: dict[int, int], reports: dict[int, Any],
    joined: int, revocations: int, versions_before: int,
) -> Any:  # fmt: skip
    """One report row, from the ledger entries of this epoch and the chain."""
    from fairwheel.sim.report import EpochRow

    node = world.node
    entries = node.queries.ledger(world.pool)[before[world.pool] :]
    demand = node.queries.ledger(world.demand)[before[world.demand] :]
    honest = {w.address.lower() for w in world.honest}
    attackers = {w.address.lower() for w in world.attackers.values()}
    raters: Counter[str] = Counter()
    people: Counter[str] = Counter()
    for e in entries:
        for account, amount in e["attribution"]:
            (raters if e["kind"] == "feedback" else people)[account] += int(amount)
    models = node.queries.models(world.pool)
    from fairwheel.errors import NotFound

    try:
        serving: dict[str, Any] | None = node.queries.serving_model(world.pool)
        accuracy: float | None = float(serving["metrics"]["accuracy"])  # type: ignore[index]
    except NotFound:  # no version yet
        serving, accuracy = None, None
    win_rate = None
    if serving is not None and len(models) >= 2:
        other = next(m for m in reversed(models) if m["id"] != serving["id"])
        wins, games = node.arena_record(world.pool, int(serving["id"]), int(other["id"]))
        win_rate = wins / games if games else None
    new = models[versions_before:]
    promoted = [m["version"] for m in new if m["report"].get("promoted")]
    onchain_root = "0x" + bytes(node.onchain.epoch_root(world.pool, epoch).root).hex()
    return EpochRow(
        epoch=epoch,
        accepted_records=node.queries.status_counts(world.pool).get("accepted", 0),
        new_contributors=joined,
        revenue=sum(int(e["price"]) for e in entries),
        operator_fees=sum(int(e["operator_fee"]) for e in entries),
        builder_earnings=sum(int(e["builder_amount"]) for e in entries),
        contributor_earnings=sum(people.values()),
        labeler_earnings=0,
        rater_earnings=sum(raters.values()),
        dust=sum(int(e["dust_out"]) - int(e["dust_in"]) for e in entries),
        honest_earnings=sum(v for a, v in people.items() if a in honest),
        attacker_earnings=sum(v for a, v in people.items() if a in attackers),
        model_accuracy=accuracy,
        win_rate=win_rate,
        revocations=revocations,
        retrained_versions=len(new),
        promoted_version=promoted[-1] if promoted else None,
        demand_matches=sum(1 for e in demand if e["kind"] == "search"),
        demand_revenue=sum(int(e["price"]) for e in demand),
        epoch_root=onchain_root,
        calls=sum(1 for e in entries if e["kind"] in ("search", "predict")),
    )


def _checks(world: _World, rows: Sequence[Any]) -> dict[str, bool]:
    node = world.node
    checks: dict[str, bool] = {}
    for pool in (world.pool, world.demand):
        last = node.queries.last_epoch(pool)
        epochs = int(last["epoch"]) if last else 0
        checks[f"pool {pool}: every epoch file recomputes its on-chain root"] = all(
            node.verify_epoch(pool, e).ok for e in range(1, epochs + 1)
        )
        # Settled entries only: calls made after the last close wait for the next epoch.
        still_open = {int(e["seq"]) for e in node.queries.open_ledger(pool)}
        ledger = [e for e in node.queries.ledger(pool) if int(e["seq"]) not in still_open]
        paid = sum(int(e["price"]) for e in ledger)
        fees = sum(int(e["operator_fee"]) for e in ledger)
        dust = int(ledger[-1]["dust_out"]) if ledger else 0
        claimed = node.onchain.total_claimed(pool)
        unclaimed = node.onchain.funded(pool) - claimed
        checks[f"pool {pool}: paid = claimed + unclaimed + fees + dust"] = (
            paid == claimed + unclaimed + fees + dust
        )
    honest = sum(r.honest_earnings for r in rows)
    attack = sum(r.attacker_earnings for r in rows)
    checks["attackers earn under 1% of contributors' earnings"] = attack < 0.01 * (honest + attack)
    checks["no revoked record is served after its revocation"] = world.served_after_revoke == 0
    checks["every revocation retrained the serving model without it"] = all(
        any(s["step"] == "retrained" for s in node.revocation_status(r)["steps"])
        or node.queries.serving_model(world.pool)["id"] not in node.queries.models_with_record(r)
        for r in world.revoked
    )
    checks["demand pool: consumers whose needs matched earned"] = any(
        r.demand_revenue > 0 for r in rows
    ) and bool(node.queries.earnings(world.demand, node.queries.epoch_count(world.demand)))
    return checks
