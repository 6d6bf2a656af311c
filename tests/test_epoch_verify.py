"""Epoch verification catches every kind of tampering and names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fairwheel.cli import app
from fairwheel.domain.merkle import StandardMerkleTree
from fairwheel.errors import ChainError
from fairwheel.settlement.epoch import EARNINGS_LEAF, fold, verify_epoch_file
from fairwheel.settlement.ledger import GENESIS_HASH, make_entry
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.valuation import SplitPolicy, split_call
from fairwheel.wallet import ConsumerWallet, ContributorWallet


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    """A pool with two closed epochs of paid searches."""
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    home = tmp_path_factory.mktemp("epochs")
    node = Node.open(
        load_settings(home=home, chain_url="embedded://", embedder_url="fake-hash://64")
    )
    pid = node.create_pool(
        "v", search_price=1_000_003, predict_price=1, operator_fee_bps=500, builder_share_bps=0
    )["id"]
    people = [ContributorWallet(node.chain.new_account(), node.consent_domain()) for _ in range(3)]
    now = node.chain.now()
    rows = synthetic_support_queries(30, seed=5)
    node.submit(
        pid, [people[i % 3].submission(pid, e.text, e.label, now=now) for i, e in enumerate(rows)]
    )
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    node.protocol.mint(consumer.address, 10**12, sender=node.operator)
    node.protocol.approve_and_deposit(pid, 10**12, sender=consumer.account)
    reports = []
    for epoch_queries in (rows[:6], rows[6:10]):
        for e in epoch_queries:
            voucher, sig = consumer.pay(pid, 1_000_003)
            node.search(pid, e.text, 3, voucher, sig)
            consumer.confirm(voucher)
        reports.append(node.close_epoch(pid))
    yield node, pid, reports, people
    node.close()


def _lines(report) -> list[str]:
    return Path(report.file_path).read_text().splitlines()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_published_epochs_verify_against_the_chain(settled) -> None:
    node, pid, reports, _ = settled
    for report in reports:
        verdict = node.verify_epoch(pid, report.epoch)
        assert verdict.ok, verdict.problem
        assert verdict.recomputed_root == verdict.chain_root == report.root


def test_epoch_check_cli_recomputes_the_root_offline(settled) -> None:
    _, _, reports, _ = settled
    result = CliRunner().invoke(app, ["epoch", "check", reports[0].file_path])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["root"] == reports[0].root


def _tamper(lines: list[str], kind: str, field: str, fn) -> list[str]:
    out = list(lines)
    at = next(i for i, line in enumerate(out) if json.loads(line)["type"] == kind)
    item = json.loads(out[at])
    item[field] = fn(item[field])
    out[at] = json.dumps(item, sort_keys=True)
    return out


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        ("amount", "entry 1 was altered"),
        ("drop", "does not follow"),
        ("reorder", "does not follow"),
        ("leaf", "leaf amounts do not follow"),
        ("previous", "previous leaves"),
    ],
)
def test_tampering_is_detected_and_named(settled, tmp_path, mutation: str, expected: str) -> None:
    node, pid, reports, _ = settled
    report = reports[1] if mutation == "previous" else reports[0]
    lines = _lines(report)
    first_entry = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "entry")
    if mutation == "amount":
        lines = _tamper(
            lines, "entry", "attribution", lambda a: [[a[0][0], str(int(a[0][1]) + 1)], *a[1:]]
        )
    elif mutation == "drop":
        del lines[first_entry + 1]
    elif mutation == "reorder":
        lines[first_entry + 1], lines[first_entry + 2] = (
            lines[first_entry + 2],
            lines[first_entry + 1],
        )
    elif mutation == "leaf":
        lines = _tamper(lines, "leaf", "cumulative", lambda v: str(int(v) - 1))
    else:  # inflate a previous leaf and the matching new leaf: consistent file, wrong history
        header = json.loads(lines[0])
        account = sorted(header["previous_leaves"])[0]
        header["previous_leaves"][account] = str(int(header["previous_leaves"][account]) + 7)
        lines[0] = json.dumps(header, sort_keys=True)
        for i, line in enumerate(lines):
            item = json.loads(line)
            if item["type"] == "leaf" and item["account"].lower() == account:
                item["cumulative"] = str(int(item["cumulative"]) + 7)
                lines[i] = json.dumps(item, sort_keys=True)
    verdict = node.verify_epoch(pid, report.epoch, _write(tmp_path, lines))
    assert not verdict.ok
    assert expected in (verdict.problem or ""), verdict.problem


def test_a_swapped_proof_fails_off_chain_and_on_chain(settled) -> None:
    node, pid, reports, people = settled
    a, b = (p.address for p in people[:2])
    proof_a, proof_b = node.claim_proof(pid, a), node.claim_proof(pid, b)
    swapped = [bytes.fromhex(p[2:]) for p in proof_b["proof"]]
    root = bytes.fromhex(reports[-1].root[2:])
    assert not StandardMerkleTree.verify(
        root, list(EARNINGS_LEAF), [a, proof_a["cumulative"]], swapped
    )
    node.chain.advance_time(node.settings.activation_delay + 1)
    with pytest.raises(ChainError):
        node.protocol.claim(pid, 2, a, proof_a["cumulative"], swapped, sender=node.operator)
    assert node.claim(pid, a, sender=node.operator) == proof_a["cumulative"]


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.integers(0, 10**24),
            st.sampled_from(["search", "predict"]),
            st.dictionaries(
                st.sampled_from(["0xa", "0xb", "0xc", "0xd"]), st.floats(-1, 5), max_size=4
            ),
        ),
        max_size=30,
    ),
    fee=st.integers(0, 5000),
    builder=st.integers(0, 5000),
)
def test_folded_ledger_conserves_tokens(calls, fee: int, builder: int) -> None:
    """For any sequence of calls: payments = earnings + fees + carried dust, exactly."""
    policy = SplitPolicy(fee, builder)
    entries, prev, dust = [], GENESIS_HASH, 0
    for seq, (price, kind, weights) in enumerate(calls, start=1):
        split = split_call(price, weights, policy, kind=kind, dust_in=dust)
        dust = split.dust_out
        body, digest = make_entry(
            seq=seq, time=seq, pool=1, consumer="0xc0", kind=kind, price=price,
            voucher_amount=price, query_hash=GENESIS_HASH, operator_fee=split.operator_fee,
            builder="0xb0" if kind == "predict" else None, builder_amount=split.builder,
            attribution=sorted(split.contributors.items()), dust_in=split.dust_in,
            dust_out=split.dust_out, prev_hash=prev,
        )  # fmt: skip
        entries.append({**body, "hash": digest})
        prev = digest
    folded = fold({}, entries, 0)
    assert folded.paid == sum(price for price, _, _ in calls)
    assert folded.paid == folded.total + folded.fees + folded.dust
    assert all(v >= 0 for v in folded.earnings.values())


def test_verify_epoch_file_rejects_garbage(tmp_path) -> None:
    from fairwheel.errors import VerificationError

    path = tmp_path / "x.jsonl"
    path.write_text('{"type": "mystery"}\n')
    with pytest.raises(VerificationError, match="unknown line type"):
        verify_epoch_file(path)
