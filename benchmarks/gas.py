"""Gas per operation of the Fairwheel contracts, and the cost of settling N paid calls.

Usage::

    python benchmarks/gas.py [--chain URL] [--calls 10,1000,1000000]
                             [--consumers C] [--contributors K]

Part 1 measures every operation on the embedded chain (py-evm, Prague rules) or on ``--chain``,
in the states that cost differently (first use of a storage slot, repeat use).

Part 2 compares two ways of paying for N calls made in one epoch:

* **Fairwheel**: nothing per call touches the chain. Per epoch, each consumer tops up once
  (``depositWithPermit``), the operator redeems every consumer's latest cumulative voucher in
  ``redeemMany`` batches of up to 100, posts one earnings root, and every contributor claims
  once (an upper bound: cumulative claims can skip epochs). Steady-state costs (repeat payers,
  repeat claimers), each claim at the proof depth of a tree of K leaves.
* **Direct**: one ERC-20 ``transfer`` per call, from the consumer to one payee (a lower bound:
  splitting a call between several contributors takes more transfers).

The numbers of consumers C and contributors K are assumptions, printed with the results
(defaults: C = N / 1,000 within [1, 1,000]; K = N / 10 within [10, 10,000], i.e. a
contributor's records answer ten calls on average). N = 10 is also run end to end (one consumer,
ten contributors), and the gas it really used is printed next to the model's figure.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any

from eth_abi import encode
from eth_account import Account

from fairwheel.chain import Chain, Protocol, StakeRole, connect_chain
from fairwheel.chain.abi import contract_abi
from fairwheel.chain.artifacts import bytecode_of
from fairwheel.domain.merkle import CONTRIBUTION_ENCODING, EARNINGS_ENCODING, StandardMerkleTree
from fairwheel.domain.typed_data import Revocation, Voucher, sign_revocation, sign_voucher

TOKEN = 10**18
ACTIVATION, THAW, WINDOW, UNSTAKE = 3600, 7 * 86400, 3 * 86400, 7 * 86400
BATCH = 100  # vouchers per redeemMany
DEPTHS = {16: 4, 1024: 10, 16384: 14}  # leaves -> proof depth measured


def earnings_tree(amounts: dict[str, int]) -> StandardMerkleTree:
    """The StandardMerkleTree of ``(account, cumulativeAmount)`` leaves."""
    return StandardMerkleTree.of([[a, v] for a, v in amounts.items()], EARNINGS_ENCODING)


class Bench:
    """One deployment and pool; ``gas`` collects the gas used per operation name."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.deployer = chain.new_account(10**21)
        self.gas: dict[str, int] = {}
        self.p: Protocol = self._deploy()
        self.op = chain.new_account(10**20)
        self.guardian = chain.new_account(10**19)
        self.p.mint(self.op.address, 10**9 * TOKEN, sender=self.deployer)
        self.p.approve(self.p.distributor_address, 2**255, sender=self.op)
        self.pool = int(self.record("createPool", self.new_pool))

    def record(self, name: str, action: Callable[[], Any]) -> Any:
        """Run a write and keep its gas under ``name``; returns its value."""
        result = action()
        self.gas[name] = int(result.gas_used)
        return result.value

    def _deploy(self) -> Protocol:
        def create(name: str, types: list[str], args: list[Any]) -> str:
            code = bytecode_of(name) + (encode(types, args) if types else b"")
            receipt = self.chain.send_transaction(self.deployer, None, code)
            self.gas[f"deploy {name}"] = int(receipt["gasUsed"])
            return str(receipt["contractAddress"])

        token = create("FairToken", [], [])
        registry = create("PoolRegistry", [], [])
        escrow = create("UsageEscrow", ["address", "uint64", "uint64"], [registry, THAW, WINDOW])
        distributor = create("RewardDistributor", ["address", "uint64"], [registry, ACTIVATION])
        staking = create(
            "Staking", ["address", "address", "uint64"], [registry, distributor, UNSTAKE]
        )
        names = ["FairToken", "PoolRegistry", "UsageEscrow", "RewardDistributor", "Staking"]
        addresses = [token, registry, escrow, distributor, staking]
        return self.chain.attach(dict(zip(names, addresses, strict=True)))

    def new_pool(self) -> Any:
        """Create a pool operated by the bench's operator."""
        return self.p.create_pool(
            sender=self.op,
            guardian=self.guardian.address,
            search_price=10**15,
            predict_price=10**16,
            operator_fee_bps=1000,
            builder_share_bps=2000,
            metadata_hash=os.urandom(32),
        )

    def consumer(self, tokens: int = 1000 * TOKEN) -> Any:
        """A funded account holding ``tokens``."""
        acct = self.chain.new_account(10**18)
        self.p.mint(acct.address, tokens, sender=self.deployer)
        return acct

    def voucher(self, payer: Any, amount: int, pool: int | None = None) -> tuple[Voucher, bytes]:
        """A signed cumulative voucher."""
        v = Voucher(payer.address, pool or self.pool, amount)
        return v, sign_voucher(v, self.p.voucher_domain(), payer)

    def transfer(self, sender: Any, to: str, amount: int = 10**15) -> int:
        """Gas of a plain ERC-20 transfer."""
        data = contract_abi("FairToken").encode_call("transfer", [to, amount])
        return int(self.chain.send_transaction(sender, self.p.token_address, data)["gasUsed"])

    # ------------------------------------------------------------------- part 1

    def registry_ops(self) -> None:
        p, op, pool = self.p, self.op, self.pool
        people = [Account.create() for _ in range(1024)]
        tree = StandardMerkleTree.of(
            [[os.urandom(32), a.address] for a in people], CONTRIBUTION_ENCODING
        )
        keys = {a.address: a for a in people}
        self.record(
            "anchorBatch (any size; 1,024 records)",
            lambda: p.anchor_batch(pool, tree.root, len(tree), "ipfs://bafy-batch", sender=op),
        )
        (record, owner), (record2, owner2) = tree.at(0), tree.at(1)
        self.chain.fund(owner, 10**17)
        revoker = keys[owner]
        self.record(
            "revoke (depth 10)", lambda: p.revoke(pool, 1, record, tree.proof(0), sender=revoker)
        )
        sig = sign_revocation(Revocation(owner2, pool, record2), p.consent_domain(), keys[owner2])
        self.record(
            "revokeWithSig (depth 10, relayed)",
            lambda: p.revoke_with_sig(pool, 1, record2, owner2, tree.proof(1), sig, sender=op),
        )
        self.record(
            "registerModel (short uri)",
            lambda: p.register_model(
                pool, os.urandom(32), tree.root, os.urandom(32), "hf://m", sender=op
            ),
        )
        self.record("pause", lambda: p.pause(pool, sender=self.guardian))
        self.record("unpause", lambda: p.unpause(pool, sender=self.guardian))

    def escrow_ops(self) -> None:
        p, op, pool = self.p, self.op, self.pool
        a, b, c = self.consumer(), self.consumer(), self.consumer()
        self.record("ERC-20 approve", lambda: p.approve(p.escrow_address, 2**255, sender=a))
        self.record("deposit (first in the escrow)", lambda: p.deposit(pool, TOKEN, sender=a))
        p.approve(p.escrow_address, 2**255, sender=b)
        self.record("deposit (first for the payer)", lambda: p.deposit(pool, TOKEN, sender=b))
        self.record("deposit (again)", lambda: p.deposit(pool, TOKEN, sender=b))
        self.record(
            "depositWithPermit (first for the payer)",
            lambda: p.deposit_with_permit(pool, TOKEN, sender=c),
        )
        self.record(
            "depositWithPermit (again)", lambda: p.deposit_with_permit(pool, TOKEN, sender=c)
        )
        self.record(
            "redeem (first for the payer)",
            lambda: p.redeem(*self.voucher(b, TOKEN // 2), sender=op),
        )
        self.record("redeem (again)", lambda: p.redeem(*self.voucher(b, TOKEN), sender=op))
        payers = [self.consumer() for _ in range(10 + BATCH)]
        for payer in payers:
            p.deposit_with_permit(pool, 100 * TOKEN, sender=payer)
        for group in (payers[:10], payers[10:]):
            n = len(group)
            first = [self.voucher(x, TOKEN) for x in group]
            self.record(
                f"redeemMany ({n} first-time payers)",
                lambda first=first: p.redeem_many(first, sender=op),
            )
            again = [self.voucher(x, 2 * TOKEN) for x in group]
            self.record(
                f"redeemMany ({n} repeat payers)",
                lambda again=again: p.redeem_many(again, sender=op),
            )
        self.record("requestWithdraw", lambda: p.request_withdraw(pool, TOKEN // 4, sender=c))
        self.chain.advance_time(THAW)
        self.record("withdraw", lambda: p.withdraw(pool, sender=c))

    def reward_ops(self) -> None:
        p, op = self.p, self.op
        for leaves, depth in DEPTHS.items():
            pool = int(self.new_pool().value)
            earners = [Account.create().address for _ in range(leaves)]
            tree1 = earnings_tree(dict.fromkeys(earners, TOKEN))
            gas = p.post_root(pool, 1, tree1.root, leaves * TOKEN, os.urandom(32), sender=op)
            if leaves == 16:
                self.gas["postRoot (first of the pool, pulls funding)"] = gas.gas_used
            self.chain.advance_time(ACTIVATION)
            for i, label in ((0, "first claim of the pool"), (1, "new token holder")):
                proof = tree1.proof([earners[i], TOKEN])
                gas = p.claim(pool, 1, earners[i], TOKEN, proof, sender=op)
                self.gas[f"claim, depth {depth}: {label}"] = gas.gas_used
            tree2 = earnings_tree(dict.fromkeys(earners, 2 * TOKEN))
            gas = p.post_root(pool, 2, tree2.root, 2 * leaves * TOKEN, os.urandom(32), sender=op)
            last = 2
            if leaves == 16:
                self.gas["postRoot (later epoch, pulls funding)"] = gas.gas_used
                cancel = p.cancel_root(pool, 2, sender=self.guardian)
                self.gas["cancelRoot"] = cancel.gas_used
                p.post_root(pool, 3, tree2.root, 2 * leaves * TOKEN, os.urandom(32), sender=op)
                last = 3
            self.chain.advance_time(ACTIVATION)
            proof = tree2.proof([earners[0], 2 * TOKEN])
            gas = p.claim(pool, last, earners[0], 2 * TOKEN, proof, sender=op)
            self.gas[f"claim, depth {depth}: repeat claimer"] = gas.gas_used
        donor = self.consumer()
        p.approve(p.distributor_address, 2**255, sender=donor)
        self.record("fund (anyone tops up a pool)", lambda: p.fund(self.pool, TOKEN, sender=donor))

    def staking_ops(self) -> None:
        p, pool, role = self.p, self.pool, StakeRole.LABELER
        s = self.consumer()
        p.approve(p.staking_address, 2**255, sender=s)
        self.record("stake (first)", lambda: p.stake(pool, role, 2 * TOKEN, sender=s))
        self.record("stake (again)", lambda: p.stake(pool, role, TOKEN, sender=s))
        self.record("requestUnstake", lambda: p.request_unstake(pool, role, TOKEN, sender=s))
        self.record(
            "slash (into the pool's funding)",
            lambda: p.slash(pool, s.address, role, TOKEN, os.urandom(32), sender=self.guardian),
        )
        self.chain.advance_time(UNSTAKE)
        self.record("unstake", lambda: p.unstake(pool, role, sender=s))

    def transfer_ops(self) -> None:
        a, b = self.consumer(), self.consumer()
        self.gas["ERC-20 transfer (to a holder)"] = self.transfer(a, b.address)
        self.gas["ERC-20 transfer (to a new holder)"] = self.transfer(a, Account.create().address)

    # ------------------------------------------------------------------- part 2

    def end_to_end(self, calls: int = 10) -> tuple[int, int]:
        """Settle ``calls`` paid calls by one consumer to ``calls`` contributors both ways.

        Returns:
            ``(fairwheel gas, direct gas)`` really used.
        """
        p, op = self.p, self.op
        pool = int(self.new_pool().value)
        payees = [self.consumer(TOKEN) for _ in range(calls)]  # existing holders, like earners
        consumer = self.consumer()
        price = 10**15
        p.deposit_with_permit(pool, TOKEN, sender=consumer)
        v, s = self.voucher(consumer, price, pool)
        p.redeem(v, s, sender=op)  # the previous epoch: consumer and operator are not new
        earn = {x.address: price for x in payees}
        p.post_root(pool, 1, earnings_tree(earn).root, sum(earn.values()), bytes(32), sender=op)
        self.chain.advance_time(ACTIVATION)
        tree = earnings_tree(earn)
        for x in payees:
            p.claim(pool, 1, x.address, price, tree.proof([x.address, price]), sender=op)
        # this epoch: `calls` vouchers signed off chain; one top-up, one redemption, one root
        used = p.deposit_with_permit(pool, TOKEN, sender=consumer).gas_used
        v, s = self.voucher(consumer, price + calls * price, pool)
        used += p.redeem_many([(v, s)], sender=op).gas_used
        earn = {x.address: 2 * price for x in payees}
        tree = earnings_tree(earn)
        used += p.post_root(pool, 2, tree.root, sum(earn.values()), bytes(32), sender=op).gas_used
        self.chain.advance_time(ACTIVATION)
        for x in payees:
            proof = tree.proof([x.address, 2 * price])
            used += p.claim(pool, 2, x.address, 2 * price, proof, sender=op).gas_used
        direct = sum(self.transfer(consumer, x.address, price) for x in payees)
        return used, direct


def claim_gas(gas: dict[str, int], contributors: int) -> int:
    """Steady-state claim gas at the depth of a tree of ``contributors`` leaves (a proof level
    costs the same beyond the measured depths, so deeper trees are extrapolated)."""
    depths = sorted(DEPTHS.values())
    depth = max(1, math.ceil(math.log2(max(contributors, 2))))
    lo, hi = depths[-2], depths[-1]
    g_lo = gas[f"claim, depth {lo}: repeat claimer"]
    g_hi = gas[f"claim, depth {hi}: repeat claimer"]
    per_level = (g_hi - g_lo) / (hi - lo)
    base = min(depths, key=lambda d: abs(d - depth))
    return round(gas[f"claim, depth {base}: repeat claimer"] + per_level * (depth - base))


def settlement(gas: dict[str, int], consumers: int, contributors: int) -> dict[str, int]:
    """The per-epoch gas of Fairwheel's settlement, by part (it does not depend on how many
    calls were made: that is the point)."""
    small, large = gas["redeemMany (10 repeat payers)"], gas[f"redeemMany ({BATCH} repeat payers)"]
    per_voucher = (large - small) / (BATCH - 10)
    batch_base = small - 10 * per_voucher
    batches = math.ceil(consumers / BATCH)
    return {
        "top-ups (depositWithPermit)": consumers * gas["depositWithPermit (again)"],
        "redemptions (redeemMany)": round(batches * batch_base + consumers * per_voucher),
        "postRoot": gas["postRoot (later epoch, pulls funding)"],
        "claims": contributors * claim_gas(gas, contributors),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chain", default="embedded://")
    parser.add_argument("--calls", default="10,1000,1000000")
    parser.add_argument("--consumers", type=int, default=None)
    parser.add_argument("--contributors", type=int, default=None)
    args = parser.parse_args(argv)
    chain = connect_chain(
        args.chain,
        activation_delay=ACTIVATION,
        thaw_period=THAW,
        redemption_window=WINDOW,
        unstake_delay=UNSTAKE,
    )
    bench = Bench(chain)
    for part in (
        bench.registry_ops,
        bench.escrow_ops,
        bench.reward_ops,
        bench.staking_ops,
        bench.transfer_ops,
    ):
        part()
    gas = bench.gas
    print(f"gas per operation on {args.chain} (solc 0.8.37 -O200 cancun, OpenZeppelin 5.7.0)")
    for name, used in gas.items():
        print(f"  {name:<50} {used:>10,}")

    print(f"\nsettling N paid calls in one epoch (gas; redeemMany batches of {BATCH})")
    header = f"  {'N':>10} {'consumers':>9} {'contributors':>12} {'Fairwheel':>14} {'per call':>9}"
    print(header + f" {'direct':>15} {'per call':>9} {'direct/Fw':>9}")
    transfer = gas["ERC-20 transfer (to a holder)"]
    for calls in (int(x) for x in args.calls.split(",")):
        consumers = args.consumers or min(max(calls // 1000, 1), 1000)
        contributors = args.contributors or min(max(calls // 10, 10), 10_000)
        parts = settlement(gas, consumers, contributors)
        ours, direct = sum(parts.values()), calls * transfer
        row = (
            f"  {calls:>10,} {consumers:>9,} {contributors:>12,} {ours:>14,} {ours / calls:>9,.0f}"
        )
        print(row + f" {direct:>15,} {transfer:>9,} {direct / ours:>8.1f}x")
        print("  " + " " * 33 + "; ".join(f"{k} {v:,}" for k, v in parts.items()))
    measured, direct = bench.end_to_end(10)
    model = sum(settlement(gas, 1, 10).values())
    print(
        f"\nN = 10 run end to end: Fairwheel {measured:,} gas (model {model:,}), "
        f"direct {direct:,} gas"
    )
    print(
        "assumptions: one top-up per consumer per epoch; every contributor claims every "
        "epoch (steady state, existing token holders); direct = one transfer per call to "
        "one payee"
    )


if __name__ == "__main__":
    main()
