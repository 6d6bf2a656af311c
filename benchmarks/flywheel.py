"""The flywheel on banking77: accuracy per epoch, revocation latency, attackers' share.

Usage::

    python benchmarks/flywheel.py [--epochs 5] [--founders 10] [--founding-rows 100]
                                  [--rows 40] [--test 1000] [--seed 7]

Runs ``fairwheel demo --epochs N``'s market (``fairwheel.sim.market``) on
``../shared/data/banking77/train.csv`` (Casanueva et al. 2020, PolyAI; CC BY 4.0; never copied)
and after every epoch measures, on the node:

* the serving model version's accuracy on a fixed held-out set (``test.csv``, embedded once);
* a revocation: a record that a paid search returns first is revoked by its contributor, and
  the very next paid search for the same text is checked — whether it still served it (target:
  never), the time from the on-chain revocation to the index removal, and the wall time from
  the revocation call to that next call's answer (it includes the synchronous retraining);
* the time to retrain without the record (the revocation's ``revoked`` → ``retrained`` steps);

and at the end the attackers' share of everything paid to contributors, read from the ledger
(target under 1%).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--founders", type=int, default=10)
    parser.add_argument("--founding-rows", type=int, default=100)
    parser.add_argument("--rows", type=int, default=40, help="rows per contributor, later epochs")
    parser.add_argument("--attack-rows", type=int, default=20)
    parser.add_argument("--test", type=int, default=1000, help="held-out rows of test.csv")
    parser.add_argument("--seed", type=int, default=7)
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
    parser.add_argument("--data", type=Path, default=default_data)
    args = parser.parse_args()
    run(args)


def run(args: argparse.Namespace) -> None:
    import numpy as np

    from fairwheel.sim.data import load_csv
    from fairwheel.sim.market import MarketConfig, run_market
    from fairwheel.training.classifier import LinearModel
    from fairwheel.wallet import ConsumerWallet

    started = time.perf_counter()
    rng = random.Random(args.seed)
    test = load_csv(args.data / "test.csv", label_col="category")
    test = rng.sample(test, min(args.test, len(test)))
    home = Path(tempfile.mkdtemp(prefix="fairwheel-flywheel-"))
    cfg = MarketConfig(
        home=home, epochs=args.epochs, data=args.data / "train.csv", seed=args.seed,
        first_contributors=args.founders, founding_rows=args.founding_rows,
        rows_per_contributor=args.rows, attack_rows=args.attack_rows,
    )  # fmt: skip
    measured: list[dict[str, object]] = []
    cache: dict[str, np.ndarray] = {}

    def on_epoch(world, epoch: int) -> None:  # type: ignore[no-untyped-def]
        node, pool = world.node, world.pool
        if "x" not in cache:
            cache["x"] = node.embedder.embed([e.text for e in test])
        serving = node.store.serving_model(pool)
        model = LinearModel.from_bytes(serving["artifact"])
        accuracy = float(np.mean(model.predict(cache["x"]) == np.asarray([e.label for e in test])))
        measured.append({"epoch": epoch, "accuracy": accuracy, "version": serving["version"],
                         "records": node.store.status_counts(pool).get("accepted", 0),
                         **_revocation(world, ConsumerWallet)})  # fmt: skip

    result = run_market(cfg, say=lambda line: print("  " + line), on_epoch=on_epoch)
    honest = sum(r.honest_earnings for r in result.rows)
    attack = sum(r.attacker_earnings for r in result.rows)
    print()
    print("Fairwheel flywheel benchmark on banking77 (Casanueva et al. 2020, PolyAI; CC BY 4.0)")
    print(f"{args.epochs} epochs; {args.founders} founders x {args.founding_rows} rows, then "
          f"{args.rows} rows per contributor and epoch; 3 attackers x {args.attack_rows} rows "
          f"from epoch 2; accuracy on {len(test)} rows of test.csv")  # fmt: skip
    print(f"{'epoch':>5} {'records':>8} {'version':>7} {'test acc':>8} {'served after':>12} "
          f"{'unserved in':>11} {'revoke->next call':>17} {'retrain':>8}")  # fmt: skip
    for m in measured:
        line = f"{m['epoch']:>5} {m['records']:>8} {m['version']:>7} {m['accuracy']:>8.3f} "
        line += f"{m['served_after']:>12} {m['unserved_ms']:>8.1f} ms "
        line += f"{m['to_next_call_ms']:>14.0f} ms {m['retrain_s']:>6.2f} s"
        print(line)
    share = attack / (honest + attack) if honest + attack else 0.0
    print(f"attackers' share of contributors' earnings over {args.epochs} epochs: {share:.3%} "
          f"({attack} of {honest + attack} base units; target < 1%)")  # fmt: skip
    print(f"market checks: {sum(result.checks.values())}/{len(result.checks)} passed; report "
          f"{result.report}; total {time.perf_counter() - started:.0f} s")  # fmt: skip


def _revocation(world, wallet_cls) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Revoke a record a search serves first; is it gone from the very next call?"""
    node, pool = world.node, world.pool
    owners = {w.address.lower(): w.account for w in world.honest}
    consumer = wallet_cls(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**20, sender=node.operator)
    node.protocol.approve_and_deposit(pool, 10**19, sender=consumer.account)
    price = node.price_of(pool, "search")
    for rec in node.store.records(pool, "accepted"):
        if rec["batch_id"] is None or rec["contributor"] not in owners:
            continue
        text = node.record_text(rec["id"])
        voucher, sig = consumer.pay(pool, price)
        first = node.search(pool, text, 3, voucher, sig)
        consumer.confirm(voucher)
        if first.hits and first.hits[0].record_id == rec["id"]:
            break
    else:
        nan = float("nan")
        return {"served_after": -1, "to_next_call_ms": nan, "retrain_s": nan, "unserved_ms": nan}
    owner = owners[rec["contributor"]]
    start = time.perf_counter()
    node.revoke(rec["id"], owner)
    voucher, sig = consumer.pay(pool, price)
    after = node.search(pool, text, 3, voucher, sig)
    consumer.confirm(voucher)
    elapsed = (time.perf_counter() - start) * 1000
    steps = {s["step"]: s["time"] for s in node.revocation_status(rec["id"])["steps"]}
    retrain = steps.get("retrained", float("nan")) - steps["revoked"]
    unserved_ms = (steps["unserved"] - steps["revoked"]) * 1000
    served = sum(h.record_id == rec["id"] for h in after.hits)
    return {"served_after": served, "to_next_call_ms": elapsed, "retrain_s": retrain,
            "unserved_ms": unserved_ms}  # fmt: skip


if __name__ == "__main__":
    main()
