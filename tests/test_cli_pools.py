"""``fairwheel init`` and ``fairwheel pool …`` end to end through the CLI, on homes on the
default chain (``anvil://``) and on an unfunded http chain; and a table of bad inputs per verb,
each answered with exactly one ``error: …`` line on stderr and exit code 1.

The embedder is the fake one (``fake-hash://384``) so each verb opens its node in well under a
second; anvil is the npm package's binary, and the module is skipped only when it is missing.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from eth_account import Account
from typer.testing import CliRunner

from fairwheel.chain.local import find_anvil
from fairwheel.cli import app
from fairwheel.config import load_settings
from fairwheel.node import Node
from fairwheel.node.pools import DEPLOY_GAS, FIRST_POOL_GAS
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ContributorWallet
from tests.chain_fixtures import run_anvil

pytestmark = pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")

EMBEDDER = "fake-hash://384"
OTHER_GUARDIAN = "0x" + "11" * 20
runner = CliRunner()


def fw(home: Path, *args: str, **env: str) -> Result:
    """Run ``fairwheel ARGS`` on ``home`` (through FAIRWHEEL_HOME) with the fake embedder."""
    return runner.invoke(
        app, list(args),
        env={"FAIRWHEEL_HOME": str(home), "FAIRWHEEL_EMBEDDER_URL": EMBEDDER, **env},
    )  # fmt: skip


def ok(home: Path, *args: str) -> Any:
    """``fairwheel ARGS`` must succeed; its stdout as JSON."""
    result = fw(home, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def lines(home: Path, *args: str) -> list[Any]:
    """``fairwheel ARGS`` must succeed; its stdout as JSON lines."""
    result = fw(home, *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def one_error(result: Result) -> str:
    """The result is exit code 1 with exactly one ``error: …`` line on stderr; that line."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    err = result.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), result.stderr
    return err[0]


CREATE = ["pool", "create", "p", "--search-price", "10", "--predict-price", "20",
          "--operator-fee-bps", "1000", "--builder-share-bps", "2000"]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A home made by ``fairwheel init`` with: pool 1 holding records (one of them rejected as
    a copy), pool 2 paused, pool 3 guarded by another key."""
    home = tmp_path_factory.mktemp("cli-pools") / "home"
    ok(home, "init")
    examples = synthetic_support_queries(16, seed=5)
    labels = ",".join(sorted({e.label for e in examples}))
    first = ok(home, *CREATE, "--labels", labels)
    assert first["id"] == 1
    node = Node.open(load_settings(home=home, embedder_url=EMBEDDER))
    try:
        people = [ContributorWallet(node.testchain.new_account(), node.consent_domain())
                  for _ in range(2)]  # fmt: skip
        now = node.onchain.now()
        subs = [people[i % 2].submission(1, e.text, e.label, now=now)
                for i, e in enumerate(examples)]  # fmt: skip
        subs.append(people[1].submission(1, examples[0].text, examples[0].label, now=now))
        results = node.submit(1, subs)
        rejected = [int(r["id"]) for r in node.queries.records(1, "rejected")]
    finally:
        node.close()
    accepted = [r.record_id for r in results if r.status == "accepted" and r.record_id]
    assert accepted and rejected, [r.status for r in results]
    assert ok(home, *CREATE)["id"] == 2
    ok(home, "pool", "pause", "2")
    assert ok(home, *CREATE, "--guardian", OTHER_GUARDIAN)["id"] == 3
    yield {"home": home, "accepted": accepted, "rejected": rejected}


# --------------------------------------------------------------------------------- init


def test_init_makes_a_private_home_and_reports_the_same_node_twice(tmp_path: Path) -> None:
    home = tmp_path / "node"
    first = ok(home, "init", "--home", str(home))
    assert first["created"] is True
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    key = home / "operator.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert first["operator"] == Account.from_key(key.read_text().strip()).address
    assert first["chain_id"] == 31337 and first["chain_url"] == f"anvil://{home / 'chain'}"
    assert set(first["contracts"]) >= {"FairToken", "PoolRegistry", "UsageEscrow",
                                       "RewardDistributor", "Staking"}  # fmt: skip
    assert first["operator_eth_wei"] > 0 and first["pools"] == 0  # it funded itself

    again = ok(home, "init", "--home", str(home))
    assert again.pop("created") is False
    assert again == {k: v for k, v in first.items() if k != "created"}
    assert key.read_text().strip()  # the same key, not a new one
    assert again["operator"] == Account.from_key(key.read_text().strip()).address


def test_init_on_an_unfunded_real_chain_says_what_to_fund_then_deploys(tmp_path: Path) -> None:
    binary = find_anvil()
    assert binary is not None
    home = tmp_path / "rpc-home"
    with run_anvil(binary) as url:
        result = fw(home, "init", "--chain-url", url)
        line = one_error(result)
        advice = json.loads(result.stdout)
        address = Account.from_key((home / "operator.key").read_text().strip()).address
        fund = advice["fund"]
        assert advice["funded"] is False
        assert fund["address"] == address and fund["chain_id"] == 31337
        assert fund["gas"] == DEPLOY_GAS + FIRST_POOL_GAS and fund["balance_wei"] == 0
        assert fund["estimate_wei"] == fund["gas_reserved"] * fund["max_fee_per_gas"] > 0
        assert address in line and "no ETH on chain 31337" in line and "init" in line
        assert "Traceback" not in result.output

        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(url))
        w3.provider.make_request("anvil_setBalance", [address, hex(fund["estimate_wei"])])
        done = ok(home, "init", "--chain-url", url)
        assert done["operator"] == address and done["chain_url"] == url
        assert set(done["contracts"]) >= {"PoolRegistry", "UsageEscrow"}
        listed = fw(home, "pool", "list", FAIRWHEEL_CHAIN_URL=url)
        assert listed.exit_code == 0 and listed.stdout == "", listed.output


# --------------------------------------------------------------------------------- pools


def test_a_pool_is_created_listed_shown_paused_unpaused_and_updated(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ok(home, "init")
    made = ok(home, "pool", "create", "support", "--search-price", "1_000", "--predict-price",
              "3000", "--operator-fee-bps", "1500", "--builder-share-bps", "2500",
              "--labels", "card, loan", "--licence", "CC0-1.0")  # fmt: skip
    pid = str(made["id"])
    assert (made["search_price"], made["predict_price"]) == (1000, 3000)
    assert (made["operator_fee_bps"], made["builder_share_bps"]) == (1500, 2500)
    assert made["labels"] == ["card", "loan"] and made["licence"] == "CC0-1.0"
    assert made["paused"] is False and made["guardian"] == made["operator"]

    assert [p["id"] for p in lines(home, "pool", "list")] == [made["id"]]
    shown = ok(home, "pool", "show", pid, "--home", str(home))  # --home, not only the variable
    assert shown["onchain"]["operator"] == made["operator"]
    assert shown["records"] == {} and shown["review_queue"] == 0 and shown["epochs"] == 0

    paused = ok(home, "pool", "pause", pid)
    assert paused["paused"] is True and paused["tx_hash"].startswith("0x")
    assert ok(home, "pool", "show", pid)["paused"] is True
    assert lines(home, "pool", "list")[0]["paused"] is True
    assert ok(home, "pool", "unpause", pid)["paused"] is False
    assert ok(home, "pool", "show", pid)["paused"] is False

    updated = ok(home, "pool", "update", pid, "--feedback-budget", "5000")
    assert updated["feedback_budget"] == {"per_epoch": 5000, "dust": 0}
    assert ok(home, "pool", "show", pid)["feedback_budget"]["per_epoch"] == 5000
    refused = one_error(fw(home, "pool", "update", pid, "--search-price", "5"))
    assert "search_price cannot change" in refused and "createPool" in refused
    assert ok(home, "pool", "show", pid)["search_price"] == 1000  # nothing was faked


def test_review_lists_the_queue_and_decides_on_records(world: dict[str, Any]) -> None:
    home, rid = world["home"], world["accepted"][0]
    before = {r["id"] for r in lines(home, "pool", "review", "1")}
    assert rid not in before
    rejected = ok(home, "pool", "review", "1", "--reject", str(rid), "--note", "looks off")
    assert (rejected["before"], rejected["after"]) == ("accepted", "quarantined")
    assert rejected["reasons"][0] == "review quarantined: looks off"
    queue = {r["id"]: r for r in lines(home, "pool", "review", "1")}
    assert queue[rid]["status"] == "quarantined" and queue[rid]["preview"]
    assert ok(home, "pool", "show", "1")["review_queue"] == len(queue)
    accepted = ok(home, "pool", "review", "1", "--accept", str(rid))
    assert (accepted["before"], accepted["after"]) == ("quarantined", "accepted")
    assert rid not in {r["id"] for r in lines(home, "pool", "review", "1")}


# ------------------------------------------------------------------------ bad input, per verb

BAD_CREATE = [
    (["--search-price", "abc"], "--search-price 'abc' is not a whole number"),
    (["--search-price", "1.5"], "--search-price '1.5' is not a whole number"),
    (["--search-price", "-5"], "--search-price -5: an amount cannot be negative"),
    (["--predict-price", ""], "--predict-price '' is not a whole number"),
    (["--operator-fee-bps", "10001"], "--operator-fee-bps 10001: basis points run from 0"),
    (["--builder-share-bps", "-1"], "--builder-share-bps -1: basis points run from 0"),
    (["--operator-fee-bps", "6000", "--builder-share-bps", "5000"], "is 11000, over 10000"),
    (["--labeler-share-bps", "20000"], "--labeler-share-bps 20000: basis points"),
    (["--labels", "a,,b"], "--labels 'a,,b': an empty label"),
    (["--labels", "a,b,a"], "a given twice"),
    (["--licence", " "], "--licence is empty"),
    (["--guardian", "0x12"], "--guardian '0x12' is not an address"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_CREATE, ids=[m for _, m in BAD_CREATE])
def test_pool_create_refuses(tmp_path: Path, extra: list[str], message: str) -> None:
    args = dict(zip(CREATE[3::2], CREATE[4::2], strict=True))
    args.update(zip(extra[::2], extra[1::2], strict=True))
    flat = [item for pair in args.items() for item in pair]
    line = one_error(fw(tmp_path / "never", "pool", "create", "p", *flat))
    assert message in line, line
    assert not (tmp_path / "never").exists()  # refused before any node was opened


def test_pool_create_refuses_an_empty_name(tmp_path: Path) -> None:
    line = one_error(fw(tmp_path / "never", "pool", "create", " ", *CREATE[3:]))
    assert "NAME is empty" in line


BAD = [
    # (verb and arguments, what the one line says)
    (["pool", "show", "abc"], "pool id 'abc' is not a whole number"),
    (["pool", "show", "0"], "pool id 0: pool ids start at 1"),
    (["pool", "show", "99"], "pool 99: no such pool on this node"),
    (["pool", "update", "99", "--feedback-budget", "1"], "pool 99: no such pool"),
    (["pool", "update", "1"], "nothing to change"),
    (["pool", "update", "1", "--feedback-budget", "-1"], "an amount cannot be negative"),
    (["pool", "update", "1", "--feedback-budget", "ten"], "'ten' is not a whole number"),
    (["pool", "update", "1", "--predict-price", "7"], "predict_price cannot change"),
    (["pool", "update", "1", "--operator-fee-bps", "10"], "operator_fee_bps cannot change"),
    (["pool", "update", "1", "--operator-fee-bps", "10001"], "basis points run from 0"),
    (["pool", "update", "1", "--labels", "x,y"], "labels cannot change: it is bound into"),
    (["pool", "update", "1", "--licence", "MIT"], "licence cannot change"),
    (["pool", "pause", "99"], "pool 99: no such pool"),
    (["pool", "pause", "x"], "pool id 'x' is not a whole number"),
    (["pool", "pause", "2"], "conflict: pool 2 is already paused"),
    (["pool", "pause", "3"], f"forbidden: pool 3's guardian is {OTHER_GUARDIAN}"),
    (["pool", "unpause", "1"], "conflict: pool 1 is not paused"),
    (["pool", "unpause", "3"], "only the guardian can unpause it"),
    (["pool", "unpause", "99"], "pool 99: no such pool"),
    (["pool", "review", "99"], "pool 99: no such pool"),
    (["pool", "review", "1", "--accept", "x"], "--accept 'x' is not a whole number"),
    (["pool", "review", "1", "--reject", "0"], "--reject 0: record ids start at 1"),
    (["pool", "review", "1", "--accept", "999999"], "--accept 999999: no such record"),
    (["pool", "review", "1", "--accept", "1", "--reject", "2"], "not both"),
    (["pool", "review", "2", "--accept", "{accepted}"], "is in pool 1, not pool 2"),
    (["pool", "review", "1", "--accept", "{rejected}"], "is rejected: only accepted or"),
    (["pool", "review", "1", "--reject", "1", "--note", "n" * 501], "within 500"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[f"{' '.join(a[1:3])}: {m[:32]}"
                                                        for a, m in BAD])  # fmt: skip
def test_pool_verbs_refuse(world: dict[str, Any], args: list[str], message: str) -> None:
    filled = [a.format(accepted=world["accepted"][0], rejected=world["rejected"][0])
              for a in args]  # fmt: skip
    line = one_error(fw(world["home"], *filled))
    assert message in line, line


def test_the_state_is_unchanged_by_refusals(world: dict[str, Any]) -> None:
    pools = {p["id"]: p for p in lines(world["home"], "pool", "list")}
    assert sorted(pools) == [1, 2, 3]
    assert [pools[i]["paused"] for i in (1, 2, 3)] == [False, True, False]
    assert pools[1]["predict_price"] == 20 and pools[1]["operator_fee_bps"] == 1000


BAD_INIT = [
    (["--chain-url", "ftp://x"], "invalid settings: chain_url: Value error"),
    (["--database-url", "nope://x"], "no store backend for 'nope://x'"),
    (["--chain-url", "http://127.0.0.1:1"], "cannot reach chain at http://127.0.0.1:1"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_INIT, ids=[m for _, m in BAD_INIT])
def test_init_refuses_and_leaves_no_half_made_home(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    home = tmp_path / "new"
    line = one_error(fw(home, "init", *extra))
    assert message in line, line
    assert not home.exists()


def test_init_refuses_a_file_as_home(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    assert "is a file, not a folder" in one_error(fw(file, "init"))


def test_verbs_on_a_kept_embedded_demo_home_say_why_they_cannot_open_it(tmp_path: Path) -> None:
    """What ``fairwheel demo --keep`` leaves: a home on the embedded chain, which is gone."""
    home = tmp_path / "demo"
    node = Node.open(load_settings(home=home, chain_url="embedded://", embedder_url=EMBEDDER))
    node.close()
    (home / "demo-report.json").write_text("{}")
    for args in (["pool", "list"], ["pool", "show", "1"], ["pool", "review", "1"]):
        line = one_error(fw(home, *args))
        assert "kept by `fairwheel demo`" in line and "fairwheel init" in line, line
    assert not (home / "chain").exists()  # no anvil was started for it


def test_a_kept_demo_home_reopens_with_the_node_verbs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A demo with --home runs on the home's own anvil, so the home outlives the run."""
    home = tmp_path / "demo"
    ran = runner.invoke(app, ["demo", "--home", str(home), "--embedder", "fake-hash://384"])
    assert ran.exit_code == 0, ran.output
    assert f"kept the demo's home {home}" in ran.output and (home / "chain").is_dir()
    monkeypatch.setenv("FAIRWHEEL_HOME", str(home))
    monkeypatch.setenv("FAIRWHEEL_EMBEDDER_URL", "fake-hash://384")
    pools = runner.invoke(app, ["pool", "list"])
    assert pools.exit_code == 0, pools.output
    assert json.loads(pools.stdout.splitlines()[0])["name"] == "support-intents"
    closed = runner.invoke(app, ["epoch", "close", "1"])
    assert closed.exit_code == 0 and json.loads(closed.stdout)["closed"] is False
