"""The StandardMerkleTree port: properties, edge cases, and a cross-check with the npm library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairwheel.domain.merkle import (
    CONTRIBUTION_ENCODING,
    EARNINGS_ENCODING,
    StandardMerkleTree,
    keccak256,
    process_proof,
    standard_leaf_hash,
)
from fairwheel.errors import VerificationError

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "contracts" / "node_modules"
OZ_TREE = NODE_MODULES / "@openzeppelin" / "merkle-tree"

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
contributions = st.lists(
    st.tuples(st.binary(min_size=32, max_size=32), addresses), min_size=1, max_size=40
)
earnings = st.lists(
    st.tuples(addresses, st.integers(min_value=0, max_value=2**256 - 1)), min_size=1, max_size=40
)


@settings(max_examples=40, deadline=None)
@given(contributions)
def test_every_contribution_proof_verifies(values: list[tuple[bytes, str]]) -> None:
    tree = StandardMerkleTree.of(values, CONTRIBUTION_ENCODING)
    assert len(tree.root) == 32 and tree.root_hex == "0x" + tree.root.hex()
    for i, value in enumerate(values):
        proof = tree.proof(i)
        assert StandardMerkleTree.verify(tree.root, CONTRIBUTION_ENCODING, value, proof)
        assert proof == tree.proof(value) or values.count(value) > 1
        assert process_proof(tree.leaf_hash(value), proof) == tree.root


@settings(max_examples=40, deadline=None)
@given(earnings, st.data())
def test_tampered_values_fail(values: list[tuple[str, int]], data: st.DataObject) -> None:
    tree = StandardMerkleTree.of(values, EARNINGS_ENCODING)
    i = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    account, amount = values[i]
    proof = tree.proof(i)
    assert StandardMerkleTree.verify(tree.root, EARNINGS_ENCODING, [account, amount], proof)
    bumped = (amount + 1) % 2**256
    if [account, bumped] not in [list(v) for v in values]:
        assert not StandardMerkleTree.verify(tree.root, EARNINGS_ENCODING, [account, bumped], proof)
    other = data.draw(addresses)
    if (other, amount) not in values:
        assert not StandardMerkleTree.verify(tree.root, EARNINGS_ENCODING, [other, amount], proof)


@settings(max_examples=20, deadline=None)
@given(earnings)
def test_dump_and_load_round_trip(values: list[tuple[str, int]]) -> None:
    tree = StandardMerkleTree.of(values, EARNINGS_ENCODING)
    data = json.loads(json.dumps(tree.dump()))
    loaded = StandardMerkleTree.load(data)
    assert loaded.root == tree.root
    assert [loaded.proof(i) for i in range(len(values))] == [
        tree.proof(i) for i in range(len(values))
    ]


def test_leaf_is_double_hashed_abi_encoding() -> None:
    account, amount = "0x" + "ab" * 20, 5 * 10**18
    encoded = bytes(12) + bytes.fromhex("ab" * 20) + amount.to_bytes(32, "big")
    assert standard_leaf_hash(EARNINGS_ENCODING, [account, amount]) == keccak256(keccak256(encoded))
    # strings as the JSON dumps write them encode the same
    assert standard_leaf_hash(EARNINGS_ENCODING, [account, str(amount)]) == keccak256(
        keccak256(encoded)
    )


def test_single_leaf_tree() -> None:
    value = [os.urandom(32), "0x" + "11" * 20]
    tree = StandardMerkleTree.of([value], CONTRIBUTION_ENCODING)
    assert tree.root == tree.leaf_hash(value)
    assert tree.proof(0) == []
    assert StandardMerkleTree.verify(tree.root, CONTRIBUTION_ENCODING, value, [])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        StandardMerkleTree.of([], CONTRIBUTION_ENCODING)
    with pytest.raises(ValueError):
        StandardMerkleTree.of([[b"short", "0x" + "11" * 20]], CONTRIBUTION_ENCODING)
    with pytest.raises(ValueError):
        StandardMerkleTree.of([["0x" + "11" * 20, -1]], EARNINGS_ENCODING)
    with pytest.raises(ValueError):
        StandardMerkleTree.of([["0x" + "11" * 20]], EARNINGS_ENCODING)
    tree = StandardMerkleTree.of([["0x" + "11" * 20, 1]], EARNINGS_ENCODING)
    with pytest.raises(ValueError, match="not in tree"):
        tree.index_of(["0x" + "11" * 20, 2])
    with pytest.raises(IndexError):
        tree.proof(3)


def test_load_refuses_tampered_dumps() -> None:
    values = [["0x" + f"{i:040x}", i] for i in range(1, 6)]
    good = StandardMerkleTree.of(values, EARNINGS_ENCODING).dump()
    bad_value = json.loads(json.dumps(good))
    bad_value["values"][0]["value"][1] = "999"
    with pytest.raises(VerificationError):
        StandardMerkleTree.load(bad_value)
    bad_node = json.loads(json.dumps(good))
    bad_node["tree"][0] = "0x" + "00" * 32
    with pytest.raises(VerificationError):
        StandardMerkleTree.load(bad_node)
    with pytest.raises(ValueError):
        StandardMerkleTree.load(dict(good, format="simple-v1"))


def test_ten_thousand_leaves_build_fast() -> None:
    values = [[os.urandom(32), "0x" + os.urandom(20).hex()] for _ in range(10_000)]
    start = time.perf_counter()
    tree = StandardMerkleTree.of(values, CONTRIBUTION_ENCODING)
    elapsed = time.perf_counter() - start
    assert len(tree.proof(1234)) in (13, 14)
    assert elapsed < 1.0, f"10k leaves took {elapsed:.2f}s"


# ------------------------------------------------------------ npm cross-check

_NODE_SCRIPT = r"""
const { StandardMerkleTree } = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(({ encoding, values, pyDump }) => {
  const tree = StandardMerkleTree.of(values, encoding);
  const loaded = StandardMerkleTree.load(pyDump);
  return {
    root: tree.root,
    proofs: values.map((_, i) => tree.getProof(i)),
    valueProofs: values.map((v) => tree.getProof(v)),
    dump: tree.dump(),
    loadedRoot: loaded.root,
    loadedProofs: values.map((_, i) => loaded.getProof(i)),
  };
});
process.stdout.write(JSON.stringify(out));
"""


def _cases() -> list[tuple[list[str], list[list[Any]]]]:
    rng = __import__("random").Random(7)

    def addr() -> str:
        return "0x" + rng.randbytes(20).hex()

    def b32() -> str:
        return "0x" + rng.randbytes(32).hex()

    return [
        (list(CONTRIBUTION_ENCODING), [[b32(), addr()] for _ in range(5)]),
        (list(CONTRIBUTION_ENCODING), [[b32(), addr()]]),
        (
            list(EARNINGS_ENCODING),
            [[addr(), str(rng.randrange(2**256))] for _ in range(7)]
            + [[addr(), "0"], [addr(), str(2**256 - 1)]],
        ),
        (list(EARNINGS_ENCODING), [[addr(), "1"], [addr(), "1"], [addr(), "1"]]),
        (["address", "uint256"], [["0x1111111111111111111111111111111111111111", "5"]] * 2),
        (
            ["string", "bool", "uint8", "bytes"],
            [["hello", True, "7", "0x01ff"], ["", False, "0", "0x"]],
        ),
        (["address", "uint256"], [[addr(), str(i)] for i in range(33)]),
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(
    not OZ_TREE.exists(),
    reason="contracts/node_modules/@openzeppelin/merkle-tree is missing: "
    "run scripts/build_contracts.sh (npm ci) first",
)
def test_matches_openzeppelin_merkle_tree() -> None:
    cases = _cases()
    trees = [StandardMerkleTree.of(values, encoding) for encoding, values in cases]
    payload = [
        {"encoding": encoding, "values": values, "pyDump": tree.dump()}
        for (encoding, values), tree in zip(cases, trees, strict=True)
    ]
    proc = subprocess.run(
        ["node", "-e", _NODE_SCRIPT, str(OZ_TREE)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results = json.loads(proc.stdout)
    for (_, values), tree, js in zip(cases, trees, results, strict=True):
        assert tree.root_hex == js["root"] == js["loadedRoot"]
        assert [tree.proof_hex(i) for i in range(len(values))] == js["proofs"] == js["loadedProofs"]
        assert js["dump"]["tree"] == tree.dump()["tree"]
        assert [v["treeIndex"] for v in js["dump"]["values"]] == [
            v["treeIndex"] for v in tree.dump()["values"]
        ]
        # the JS library's dump loads here and gives the same tree
        assert StandardMerkleTree.load(js["dump"]).root == tree.root
        # lookups by value agree too (for duplicates both pick the last index)
        assert [tree.proof_hex(value) for value in values] == js["valueProofs"]
