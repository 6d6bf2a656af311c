"""``fairwheel demo``: one real turn of the flywheel on the embedded defaults.

Contribute under signed consent → gate → embed + index → anchor → train →
paid search and prediction → attribute → close the epoch → claim → verify.
Every figure in the summary is read back from the ledger and the chain; the
demo fails (non-zero exit) if any proof, verification or conservation check fails.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairwheel.sim.data import Example

TOKEN = 10**18  # FAIR has 18 decimals
SEARCH_PRICE = 2 * 10**15 + 3  # 0.002000…003 FAIR: odd on purpose, so rounding dust is real
PREDICT_PRICE = 5 * 10**15 + 7
ATTACKS = ("near_copy", "junk", "label_flip")
ATTACK_ROWS = 12  # rows per attacker


@dataclass
class DemoConfig:
    """Knobs of one demo turn."""

    home: Path
    contributors: int = 12
    consumers: int = 3
    searches: int = 30
    predictions: int = 30
    records: int = 360
    data: Path | None = None
    text_col: str = "text"
    label_col: str | None = None
    limit: int | None = None
    seed: int = 7
    embedder_url: str = "minilm://onnx"
    # embedded:// ends with the run; anvil:// keeps the chain in the home, so a kept home
    # reopens with the normal verbs (``fairwheel demo --keep`` / ``--home``).
    chain_url: str = "embedded://"


@dataclass
class DemoResult:
    """Checks and figures of a demo turn; ``ok`` is False if any check failed."""

    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())


def _fmt(amount: int) -> str:
    return f"{amount / TOKEN:.6f} FAIR ({amount} units)"


def run_demo(cfg: DemoConfig, say: Callable[[str], None] = print) -> DemoResult:
    """Run one full flywheel turn and return its checks and figures."""

    from fairwheel.config import load_settings
    from fairwheel.node import Node
    from fairwheel.quality.label_issues import LabelPolicy
    from fairwheel.sim.data import load_csv, synthetic_support_queries
    from fairwheel.wallet import ConsumerWallet, ContributorWallet

    started = time.perf_counter()
    rng = random.Random(cfg.seed)
    result = DemoResult()
    # As under `fairwheel serve --jobs`: submissions are not held up by rescoring the pool for
    # its growth; the demo runs the rescore job itself (below), as often as a node with the
    # default 60 s job interval would during an ingest of this size (once it has a pool, and
    # at the end).
    settings = load_settings(home=cfg.home, chain_url=cfg.chain_url, embedder_url=cfg.embedder_url,
                             jobs={"inline_rescore": False})  # fmt: skip
    node = Node.open(settings)
    testchain, chain_facts = node.testchain, node.onchain

    # -- data ------------------------------------------------------------------
    if cfg.data is not None:
        examples = load_csv(cfg.data, cfg.text_col, cfg.label_col)
        source = str(cfg.data)
    else:
        examples = synthetic_support_queries(cfg.records, cfg.seed)
        source = f"synthetic support queries (seed {cfg.seed})"
    rng.shuffle(examples)
    if cfg.limit:
        examples = examples[: cfg.limit]
    n_queries = max(cfg.searches, cfg.predictions)
    queries, examples = examples[:n_queries], examples[n_queries:]
    labels = sorted({e.label for e in examples})
    say(f"data: {len(examples)} records from {source}, {len(labels)} labels")

    # -- pool -------------------------------------------------------------------
    pool = node.create_pool(
        "support-intents",
        search_price=SEARCH_PRICE,
        predict_price=PREDICT_PRICE,
        operator_fee_bps=1000,
        builder_share_bps=2000,
        labels=labels,
    )
    pool_id = int(pool["id"])
    say(f"pool {pool_id} created on-chain: search {_fmt(SEARCH_PRICE)}, predict "
        f"{_fmt(PREDICT_PRICE)}, operator fee 10%, builder share 20%")  # fmt: skip

    # -- contributions ------------------------------------------------------------
    domain = node.consent_domain()
    people = [testchain.new_account() for _ in range(cfg.contributors)]
    wallets = [ContributorWallet(a, domain) for a in people]
    now = chain_facts.now()
    fresh, examples = examples[:ATTACK_ROWS], examples[ATTACK_ROWS:]
    submissions, expected_bad = _contributions(pool_id, examples, wallets, rng, now)
    attackers = {kind: ContributorWallet(testchain.new_account(), domain) for kind in ATTACKS}
    attacks = _attacks(pool_id, examples, fresh, labels, attackers, rng, now)
    submissions += [sub for subs in attacks.values() for sub in subs]
    results = []
    for start in range(0, len(submissions), 512):
        results += node.submit(pool_id, submissions[start : start + 512])
        if start == 0 or start + 512 >= len(submissions):
            node.rescore(pool_id)  # the rescore job's pass: later batches meet a fresh snapshot
    by_status = Counter(r.status for r in results)
    reasons = Counter(r.reasons[0].split(" ")[0] for r in results if r.status != "accepted")
    say(f"gate: {by_status.get('accepted', 0)} accepted, {by_status.get('quarantined', 0)} "
        f"quarantined, {by_status.get('rejected', 0)} rejected "
        f"{dict(sorted(reasons.items()))}")  # fmt: skip
    copies = results[len(examples) : len(examples) + expected_bad.pop("copy")]
    result.checks["gate rejects every injected copy"] = all(
        r.status == "rejected" and "duplicate" in r.reasons[0] for r in copies
    )
    for reason, count in expected_bad.items():
        result.checks[f"gate rejects injected {reason}"] = reasons.get(reason, 0) >= count
    _check_attacks(node, pool_id, attacks, results[-sum(map(len, attacks.values())) :], result,
                   say)  # fmt: skip

    receipts = node.anchor(pool_id)
    # Every receipt is checked off-chain; up to 200 of them (all, in the default demo) also by
    # the contract itself, one eth_call each.
    offchain = sum(_receipt_verifies(r) for r in receipts)
    sample = receipts if len(receipts) <= 200 else rng.sample(receipts, 200)
    onchain = sum(node.verify_receipt(r) for r in sample)
    result.checks["every receipt verifies"] = offchain == len(receipts) > 0
    result.checks["receipts verify in PoolRegistry.isAnchored"] = onchain == len(sample)
    say(f"anchored batch of {len(receipts)} records, root {receipts[0].root[:18]}…; receipts "
        f"verified: {offchain}/{len(receipts)} off-chain, {onchain}/{len(sample)} by "
        "PoolRegistry.isAnchored")  # fmt: skip

    # -- training -----------------------------------------------------------------
    builder = testchain.new_account()
    model = node.train(pool_id, builder.address)
    accuracy = float(model["metrics"]["accuracy"])
    say(f"model trained on {int(model['metrics']['train_size'])} consented records, held-out "
        f"accuracy {accuracy:.3f}, registered on-chain as {model['model_hash'][:18]}…")  # fmt: skip

    # -- consumers ----------------------------------------------------------------
    # The operator's tokens move only by redemptions (in) and root funding (out).
    op_before = chain_facts.token_balance(node.operator.address)
    vdomain = node.voucher_domain()
    consumers = [ConsumerWallet(testchain.new_account(), vdomain) for _ in range(cfg.consumers)]
    deposit = 2 * TOKEN
    for c in consumers:
        testchain.faucet(c.address, deposit, 0)
        testchain.deposit(pool_id, deposit, c.account)

    _paid_calls(node, pool_id, consumers, queries, people, cfg, result, say)

    # -- settlement ---------------------------------------------------------------
    report = node.close_epoch(pool_id)
    say(f"epoch {report.epoch} closed: {report.entries} calls, redeemed {_fmt(report.redeemed)}, "
        f"root {report.root[:18]}… posted with {_fmt(report.total)} funded")  # fmt: skip
    verification = node.verify_epoch(pool_id, report.epoch)
    result.checks["epoch file recomputes the on-chain root"] = verification.ok
    testchain.activate_epochs()
    claimed: dict[str, int] = {}
    # The last contributor does not claim yet: their earnings stay in the distributor.
    for person in [*people[:-1], builder]:
        if report.earnings.get(person.address.lower()):
            claimed[person.address] = node.claim(pool_id, person.address, sender=person)
    result.checks["every claim paid its full leaf"] = all(
        claimed[a] == report.earnings[a.lower()] for a in claimed
    )

    contributors_earned = sum(report.earnings.get(p.address.lower(), 0) for p in people)
    earned = {k: report.earnings.get(w.address.lower(), 0) for k, w in attackers.items()}
    total = contributors_earned + sum(earned.values())
    share = {k: v / total if total else 0.0 for k, v in earned.items()}
    result.figures["attacker_payout_share"] = share
    say("attackers' share of contributors' earnings: "
        + ", ".join(f"{k} {v:.2%}" for k, v in share.items()))  # fmt: skip
    result.checks["junk attacker earns nothing"] = earned["junk"] == 0
    # Labels are judged only in classes with enough records (docs/quality.md, "Young pools").
    smallest = min(Counter(e.label for e in examples).values())
    if smallest >= LabelPolicy().min_per_class:
        result.checks["label-flip attacker earns nothing"] = earned["label_flip"] == 0
    else:
        say(f"label check inactive: the smallest class has {smallest} records "
            f"(needs {LabelPolicy().min_per_class})")  # fmt: skip
    result.checks["near-copy attacker earns under 0.5%"] = share["near_copy"] < 0.005
    _conservation(node, pool_id, consumers, report, op_before, claimed, result, say)
    _summary(node, pool_id, people, builder, report, claimed, accuracy, result, say)
    result.figures["seconds"] = round(time.perf_counter() - started, 1)
    report_path = cfg.home / "demo-report.json"
    report_path.write_text(json.dumps({"checks": result.checks, "figures": result.figures},
                                      indent=1, default=str))  # fmt: skip
    say(f"report written to {report_path}; {result.figures['seconds']} s")
    node.close()
    return result


def _receipt_verifies(receipt: Any) -> bool:
    from fairwheel.domain.merkle import StandardMerkleTree
    from fairwheel.node import CONTRIBUTION_LEAF

    return StandardMerkleTree.verify(
        bytes.fromhex(receipt.root[2:]),
        list(CONTRIBUTION_LEAF),
        [bytes.fromhex(receipt.record_hash[2:]), receipt.contributor],
        [bytes.fromhex(p[2:]) for p in receipt.proof],
    )


def _contributions(
    pool_id: int, examples: Sequence[Example], wallets: Sequence[Any], rng: random.Random, now: int
) -> tuple[list[Any], Counter[str]]:
    """Honest submissions plus injected bad ones: copies, forgeries, replays, junk."""
    from dataclasses import replace

    subs = [
        wallets[i % len(wallets)].submission(pool_id, e.text, e.label, now=now)
        for i, e in enumerate(examples)
    ]
    bad: Counter[str] = Counter()
    copier, forger = wallets[-1], wallets[-2]
    for e in rng.sample(list(examples), min(6, len(examples))):  # someone else's rows, re-cased
        subs.append(copier.submission(pool_id, "  " + e.text.upper() + " ", e.label, now=now))
        bad["copy"] += 1
    victim = subs[0]
    # A forged consent: claims to be from the first contributor, signed by another key.
    forged = forger.submission(pool_id, "forged record about my card", examples[0].label, now=now)
    subs.append(
        replace(forged, consent=replace(forged.consent, contributor=victim.consent.contributor))
    )
    bad["bad_signature"] += 1
    subs.append(victim)  # the exact same signed submission replayed
    bad["consent_replayed"] += 1
    subs.append(wallets[1].submission(pool_id, "  ", examples[0].label, now=now))
    bad["too_short"] += 1
    subs.append(wallets[2].submission(pool_id, "x" * 9000, examples[0].label, now=now))
    bad["too_large"] += 1
    expired = wallets[3]
    old = expired.submission(
        pool_id, "this consent expired long ago", examples[0].label, now=now - 10**8
    )
    subs.append(old)
    bad["consent_expired"] += 1
    return subs, bad


def _attacks(
    pool_id: int, examples: Sequence[Example], fresh: Sequence[Example], labels: Sequence[str],
    attackers: dict[str, Any], rng: random.Random, now: int,
) -> dict[str, list[Any]]:  # fmt: skip
    """One attacker per kind: near copies of others' rows, junk, and fresh rows mislabelled."""
    from fairwheel.quality.synthetic import flip_label, junk_text, near_copy

    vocabulary = sorted({w for e in examples for w in e.text.lower().split()})
    rows: dict[str, list[tuple[str, str]]] = {
        "near_copy": [(near_copy(e.text, rng), e.label)
                      for e in rng.sample(list(examples), ATTACK_ROWS)],
        "junk": [(junk_text(rng, vocabulary), rng.choice(labels)) for _ in range(ATTACK_ROWS)],
        "label_flip": [(e.text, flip_label(e.label, labels, rng)) for e in fresh],
    }  # fmt: skip
    return {
        kind: [attackers[kind].submission(pool_id, text, label, now=now) for text, label in pairs]
        for kind, pairs in rows.items()
    }


def _check_attacks(
    node: Any, pool_id: int, attacks: dict[str, list[Any]], results: Sequence[Any],
    result: DemoResult, say: Callable[[str], None],
) -> None:  # fmt: skip
    """How many of each attacker's rows ended rejected or quarantined (at the gate, or later
    when the pool was rescored); what they earn is checked after the epoch."""
    at = 0
    stopped: dict[str, int] = {}
    for kind, subs in attacks.items():
        mine = results[at : at + len(subs)]
        at += len(subs)
        ids = [r.record_id for r in mine if r.record_id is not None]
        now = {rid: rec["status"] for rid, rec in node.queries.records_by_ids(ids).items()}
        stopped[kind] = sum(r.record_id is None or now[r.record_id] != "accepted" for r in mine)
    result.figures["attacks_stopped"] = stopped
    summary = ", ".join(f"{k} {v}/{len(attacks[k])} stopped" for k, v in stopped.items())
    say(f"attackers: {summary} (rejected at the gate, or quarantined at once or by rescoring)")


def _paid_calls(
    node: Any, pool_id: int, consumers: Sequence[Any], queries: Sequence[Example],
    people: Sequence[Any], cfg: DemoConfig, result: DemoResult, say: Callable[[str], None],
) -> int:  # fmt: skip
    """Paid searches and predictions; one contributor revokes a served record midway."""
    from fairwheel.errors import ReplayError

    owners = {p.address.lower(): p for p in people}
    correct = 0
    revoked_id = -1
    served_after_revoke = False
    for i in range(max(cfg.searches, cfg.predictions)):
        c = consumers[i % len(consumers)]
        q = queries[i % len(queries)]
        if i < cfg.searches:
            voucher, sig = c.pay(pool_id, node.price_of(pool_id, "search"))
            res = node.search(pool_id, q.text, 5, voucher, sig)
            c.confirm(voucher)
            if i == cfg.searches // 2 and res.hits:
                top = next(h for h in res.hits if h.contributor in owners)
                owner = owners[top.contributor]
                node.revoke(top.record_id, owner)
                revoked_id = top.record_id
                say(f"contributor {owner.address[:10]}… revoked record {revoked_id} "
                    "(on-chain, index, content key)")  # fmt: skip
            elif revoked_id >= 0:
                served_after_revoke |= any(h.record_id == revoked_id for h in res.hits)
        if i < cfg.predictions:
            voucher, sig = c.pay(pool_id, node.price_of(pool_id, "predict"))
            res = node.predict(pool_id, q.text, voucher, sig)
            c.confirm(voucher)
            correct += res.prediction == q.label
    result.checks["a revoked record is never served again"] = not served_after_revoke
    # A replayed voucher is refused and charges nothing.
    try:
        node.search(pool_id, "replay", 3, voucher, sig)
        result.checks["a replayed voucher is refused"] = False
    except ReplayError:
        result.checks["a replayed voucher is refused"] = True
    if cfg.predictions:
        result.figures["live_prediction_accuracy"] = round(correct / cfg.predictions, 3)
    say(f"{cfg.searches} paid searches and {cfg.predictions} paid predictions by "
        f"{len(consumers)} consumers; live prediction accuracy "
        f"{result.figures.get('live_prediction_accuracy', 0):.3f}")  # fmt: skip
    return revoked_id


def _conservation(
    node: Any, pool_id: int, consumers: Sequence[Any], report: Any, op_before: int,
    claimed: dict[str, int], result: DemoResult, say: Callable[[str], None],
) -> None:  # fmt: skip
    """Tokens paid by consumers = claimed + unclaimed + fees + dust, read from the chain."""
    chain_facts = node.onchain
    ledger = node.queries.ledger(pool_id)
    paid_ledger = sum(int(e["price"]) for e in ledger)
    fees = sum(int(e["operator_fee"]) for e in ledger)
    dust = int(ledger[-1]["dust_out"]) if ledger else 0
    redeemed_chain = sum(chain_facts.redeemed(pool_id, c.address) for c in consumers)
    total_claimed = chain_facts.total_claimed(pool_id)
    unclaimed = chain_facts.funded(pool_id) - total_claimed
    operator_kept = chain_facts.token_balance(node.operator.address) - op_before
    distributor_holds = chain_facts.token_balance(chain_facts.contracts()["RewardDistributor"])
    checks = {
        "consumers' vouchers redeemed on-chain = ledger payments": redeemed_chain == paid_ledger,
        "claims on-chain = claims made": total_claimed == sum(claimed.values()),
        "distributor holds exactly the unclaimed earnings": distributor_holds == unclaimed,
        "operator kept exactly fees + carried dust": operator_kept == fees + dust,
        "paid = claimed + unclaimed + fees + dust": paid_ledger
        == total_claimed + unclaimed + fees + dust,
    }
    result.checks.update(checks)
    result.figures.update(paid=paid_ledger, claimed=total_claimed, unclaimed=unclaimed,
                          fees=fees, dust=dust)  # fmt: skip
    mark = "OK" if all(checks.values()) else "MISMATCH"
    say(f"conservation [{mark}]: paid {paid_ledger} = claimed {total_claimed} + unclaimed "
        f"{unclaimed} + fees {fees} + dust {dust}  (token base units)")  # fmt: skip


def _summary(
    node: Any, pool_id: int, people: Sequence[Any], builder: Any, report: Any,
    claimed: dict[str, int], accuracy: float, result: DemoResult, say: Callable[[str], None],
) -> None:  # fmt: skip
    stats = node.pool_stats(pool_id)
    ledger = node.queries.ledger(pool_id)
    calls = Counter(e["kind"] for e in ledger)
    say("")
    say("== summary ==")
    say(f"records: {stats['records']}; rejected by reason: {stats['rejected_by_reason']}")
    say(f"calls: {dict(calls)}; revenue {_fmt(sum(int(e['price']) for e in ledger))}")
    say(f"model held-out accuracy: {accuracy:.3f}")
    say("earnings and claims:")
    for person in [*people, builder]:
        earned = report.earnings.get(person.address.lower(), 0)
        role = "builder    " if person is builder else "contributor"
        say(
            f"  {role} {person.address}  earned {earned:>22}  "
            f"claimed {claimed.get(person.address, 0):>22}"
        )
    say("gas per on-chain operation (median):")
    for op, gases in sorted(node.gas.items()):
        say(f"  {op:<16} {sorted(gases)[len(gases) // 2]:>9,}  (x{len(gases)})")
    say("checks:")
    for name, ok in result.checks.items():
        say(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    result.figures.update(
        records=stats["records"],
        rejected_by_reason=stats["rejected_by_reason"],
        calls=dict(calls),
        model_accuracy=accuracy,
        gas={op: sorted(g)[len(g) // 2] for op, g in node.gas.items()},
        earnings=report.earnings,
        epoch_root=report.root,
    )
