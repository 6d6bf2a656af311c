"""The process ``tests/test_crash_safety.py`` kills: a node doing real work until SIGKILL.

Run as ``python -m tests.crash_driver PLAN.json SEED``. It opens the node the plan names (a
home, a database URL, the harness's anvil over HTTP) and loops over random steps — a
contribution batch, a paid search, an anchor, an epoch close — printing one line per step
*after* it returned (its acknowledgement): ``SUBMIT id,id,…``, ``CALL seq``, ``ANCHOR n``,
``CLOSE epoch``. Everything it needs to go on after a kill (the next voucher amount, which texts
it sent) it reads back from the node, as a real client would after a crash.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from fairwheel.errors import Conflict, ReplayError


def _open(plan: dict[str, Any]) -> Any:
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    settings = load_settings(
        home=Path(plan["home"]), database_url=plan["database_url"], chain_url=plan["rpc_url"],
        embedder_url="fake-hash://384", retrain_on_revoke=False,
    )  # fmt: skip
    return Node.open(settings)


def main(plan_path: str, seed: int) -> None:
    from eth_account import Account

    from fairwheel.domain.typed_data import Voucher, sign_voucher
    from fairwheel.wallet import ContributorWallet

    plan = json.loads(Path(plan_path).read_text())
    rng = random.Random(seed)
    node = _open(plan)
    pid = int(plan["pool_id"])
    contributors = [Account.from_key(k) for k in plan["contributor_keys"]]
    payer = Account.from_key(plan["payer_key"])
    wallets = [ContributorWallet(a, node.consent_domain()) for a in contributors]
    price = int(node.queries.pool(pid)["search_price"])
    print("READY", flush=True)
    while True:
        step = rng.choices(["submit", "call", "anchor", "close"], weights=[3, 6, 1, 1])[0]
        if step == "submit":
            who = rng.randrange(len(wallets))
            now = node.chain.now()
            texts = [f"crash test note {seed}-{rng.getrandbits(40)} about card {i}"
                     for i in range(4)]  # fmt: skip
            out = node.submit(pid, [wallets[who].submission(pid, t, None, now=now) for t in texts])
            ids = [str(r.record_id) for r in out if r.status == "accepted"]
            refused = sorted({r.reasons[0].split()[0] for r in out if r.status != "accepted"})
            print(f"SUBMIT {','.join(ids) or '-'} {','.join(refused) or '-'}", flush=True)
        elif step == "call":
            cumulative = node.ledger.spent(pid, payer.address) + price
            voucher = Voucher(payer.address, pid, cumulative)
            signature = sign_voucher(voucher, node.voucher_domain(), payer.key)
            try:
                result = node.search(pid, "card lost", 3, voucher, signature)
            except ReplayError:  # a call that committed just before the last kill
                continue
            print(f"CALL {result.seq}", flush=True)
        elif step == "anchor":
            print(f"ANCHOR {len(node.anchor(pid))}", flush=True)
        elif node.settlement.has_open_calls(pid):
            try:
                report = node.close_epoch(pid)
            except Conflict:
                continue
            print(f"CLOSE {report.epoch}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
