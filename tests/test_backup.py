"""``fairwheel backup`` / ``restore`` (issue #14 item 6, issue #18): a real node with records,
paid calls and a closed epoch is backed up — its SQLite WAL still holding data a file copy
would miss, or its PostgreSQL schema dumped — restored into a new home, reopened, and found
whole: every record, ledger entry, epoch and blob, on the chain as in the database. Bad input
is one clear line and leaves nothing behind.

Anvil is the npm package's binary (./scripts/setup.sh installs it); these tests are skipped,
with the reason, only when it is missing (and the PostgreSQL case without a test database).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairwheel.chain.local import find_anvil
from fairwheel.cli import app
from fairwheel.config import load_settings
from fairwheel.node import Node
from fairwheel.node.backup import backup
from fairwheel.settlement.ledger import verify_chain
from fairwheel.sim.data import synthetic_support_queries
from fairwheel.wallet import ConsumerWallet, ContributorWallet

pytestmark = pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")

EMBEDDER = "fake-hash://64"
PRICE = 7


def _open(home: Path, **settings: Any) -> Node:
    return Node.open(load_settings(home=home, embedder_url=EMBEDDER, **settings))


def _populate(node: Node) -> tuple[int, ConsumerWallet]:
    """A pool with anchored and pending records, paid calls in a closed and an open epoch."""
    pid = int(node.create_pool("p", search_price=PRICE, predict_price=9, operator_fee_bps=1000,
                               builder_share_bps=0, labels=[])["id"])  # fmt: skip
    people = [node.chain.new_account() for _ in range(2)]
    examples = synthetic_support_queries(16, seed=5)
    now = node.chain.now()

    def submissions(rows: Any) -> list[Any]:
        return [
            ContributorWallet(people[i % 2], node.consent_domain()).submission(
                pid, e.text, e.label, now=now
            )
            for i, e in enumerate(rows)
        ]

    assert any(r.status == "accepted" for r in node.submit(pid, submissions(examples[:12])))
    node.anchor(pid)
    consumer = ConsumerWallet(node.chain.new_account(), node.voucher_domain())
    proto = node.protocol
    proto.mint(consumer.address, 1000, sender=node.operator)
    proto.approve(proto.addresses["UsageEscrow"], 1000, sender=consumer.account)
    proto.deposit(pid, 1000, sender=consumer.account)
    for query in ("card", "refund", "transfer"):
        voucher, sig = consumer.pay(pid, PRICE)
        node.search(pid, query, 3, voucher, sig)
        consumer.confirm(voucher)
    assert node.close_epoch(pid).epoch == 1
    voucher, sig = consumer.pay(pid, PRICE)  # one call in the open epoch, not yet redeemed
    node.search(pid, "card", 3, voucher, sig)
    consumer.confirm(voucher)
    node.submit(pid, submissions(examples[12:]))  # accepted, not anchored
    return pid, consumer


def _facts(node: Node, pid: int) -> dict[str, Any]:
    """What must survive: records, the ledger, the epoch and its earnings, the chain's view."""
    epoch = dict(node.queries.epoch(pid, 1))
    epoch.pop("file_path")
    return {
        "records": node.queries.records(pid),
        "ledger": node.queries.ledger(pid),
        "epoch": epoch,
        "earnings": node.queries.earnings(pid, 1),
        "open": node.queries.open_ledger(pid),
        "pending": [r["id"] for r in node.queries.unanchored(pid)],
        "contracts": node.onchain.contracts(),
    }


def _check_restored(node: Node, pid: int, before: dict[str, Any], consumer: ConsumerWallet,
                    home: Path) -> None:  # fmt: skip
    assert _facts(node, pid) == before
    assert len(before["records"]) >= 12 and len(before["ledger"]) == 4 and before["pending"]
    assert verify_chain(node.queries.ledger(pid)) == before["ledger"][-1]["hash"]
    assert Path(node.queries.epoch(pid, 1)["file_path"]).parent == home / "epochs"
    assert node.verify_epoch(pid, 1).ok  # the epoch file, in the new home, matches the chain
    voucher, sig = consumer.pay(pid, PRICE)  # the escrow and the voucher chain go on
    result = node.search(pid, "card", 3, voucher, sig)
    assert result.seq == before["ledger"][-1]["seq"] + 1
    assert result.hits and all(hit.text for hit in result.hits)  # blobs decrypt: key restored
    assert node.close_epoch(pid).epoch == 2  # vouchers redeem on the restored chain


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ SQLite on the default chain


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A node on the default chain, backed up (folder and .tar.gz) by the CLI after its stop."""
    root = tmp_path_factory.mktemp("saved")
    home = root / "home"
    node = _open(home)
    try:
        pid, consumer = _populate(node)
        before = _facts(node, pid)
        refused = _invoke("backup", str(root / "hot"), "--home", str(home))
    finally:
        node.close()
    folder, archive = root / "backup", root / "backup.tar.gz"
    for dest in (folder, archive):
        done = _invoke("backup", str(dest), "--home", str(home))
        assert done.exit_code == 0, done.output
    shutil.rmtree(home)  # nothing of the old home may be needed again
    return {"root": root, "pid": pid, "consumer": consumer, "before": before,
            "refused": refused, "folder": folder, "archive": archive}  # fmt: skip


def test_a_home_open_in_a_process_is_refused_with_the_reason(saved: dict[str, Any]) -> None:
    refused = saved["refused"]
    assert refused.exit_code == 1
    assert "is open in process" in refused.output and "stop that node" in refused.output
    assert not (saved["root"] / "hot").exists()
    assert not list(saved["root"].glob(".hot*"))  # no partial backup left


def test_the_backup_describes_itself_and_is_private(saved: dict[str, Any]) -> None:
    folder: Path = saved["folder"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "fairwheel-backup" and manifest["database"]["backend"] == "sqlite"
    assert manifest["database"]["schema_version"] >= 3
    assert manifest["database"]["rows"]["records"] == len(saved["before"]["records"])
    assert manifest["chain"]["kind"] == "anvil" and manifest["chain"]["chain_id"] == 31337
    names = set(manifest["files"])
    assert {"database.sqlite", "home/operator.key", "home/chain/state.json",
            "home/blobs/master.key", "home/epochs/pool-1-epoch-1.jsonl"} <= names  # fmt: skip
    assert not any(n.startswith(("home/index", "home/chain/lock")) for n in names)
    assert _mode(folder) == 0o700
    assert all(_mode(folder / n) == 0o600 for n in [*names, "manifest.json"])
    assert _mode(saved["archive"]) == 0o600
    with tarfile.open(saved["archive"]) as tar:
        assert "manifest.json" in tar.getnames() and "home/operator.key" in tar.getnames()


@pytest.mark.parametrize("which", ["folder", "archive"])
def test_a_restored_home_reopens_with_everything(
    saved: dict[str, Any], which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = saved["root"] / f"restored-{which}"
    done = _invoke("restore", str(saved[which]), "--home", str(home))
    assert done.exit_code == 0, done.output
    assert "reopen with the default anvil://" in done.output
    assert _mode(home / "operator.key") == 0o600
    monkeypatch.setenv("FAIRWHEEL_HOME", str(home))
    monkeypatch.setenv("FAIRWHEEL_EMBEDDER_URL", EMBEDDER)
    earner = saved["before"]["ledger"][0]["attribution"][0][0]
    earnings = _invoke("earnings", earner)  # the plain verbs open the restored home
    assert earnings.exit_code == 0, earnings.output
    assert len(earnings.output.splitlines()) == sum(
        1 for e in saved["before"]["ledger"] if any(a == earner for a, _ in e["attribution"])
    )
    node = _open(home)
    try:
        _check_restored(node, saved["pid"], saved["before"], saved["consumer"], home)
    finally:
        node.close()


# ---------------------------------------------------- a running node on an RPC chain, WAL full


def test_a_running_node_is_backed_up_with_what_its_wal_holds(tmp_path: Path) -> None:
    from tests.chain_fixtures import run_anvil

    binary = find_anvil()
    assert binary is not None
    with run_anvil(binary) as url:
        home = tmp_path / "home"
        _fund_operator(home, url)  # a real chain: the operator brings its own gas
        node = _open(home, chain_url=url)
        try:
            pid, consumer = _populate(node)
            before = _facts(node, pid)
            wal = home / "fairwheel.db-wal"
            assert wal.stat().st_size > 0  # the node is open: its last writes are in the WAL
            shutil.copyfile(home / "fairwheel.db", tmp_path / "copied.db")  # issue #18's copy
            copied = sqlite3.connect(tmp_path / "copied.db")
            try:
                tables = {r[0] for r in copied.execute("SELECT name FROM sqlite_master")}
                held = copied.execute("SELECT COUNT(*) FROM records").fetchone()[0] if (
                    "records" in tables) else 0  # fmt: skip
            finally:
                copied.close()
            assert held < len(before["records"])  # a file copy loses what the WAL holds
            report = backup(load_settings(home=home, chain_url=url), tmp_path / "b.tar.gz")
            assert report.chain == "rpc" and report.rows["records"] == len(before["records"])
        finally:
            node.close()
        new_home = tmp_path / "new"
        done = _invoke("restore", str(tmp_path / "b.tar.gz"), "--home", str(new_home))
        assert done.exit_code == 0, done.output
        assert "chain 31337" in done.output and "--chain-url" in done.output
        again = _open(new_home, chain_url=url)
        try:
            _check_restored(again, pid, before, consumer, new_home)
        finally:
            again.close()


def _fund_operator(home: Path, url: str) -> None:
    import os
    import secrets
    import urllib.request

    from eth_account import Account

    home.mkdir()
    key = "0x" + secrets.token_hex(32)
    fd = os.open(home / "operator.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    body = {"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance",
            "params": [Account.from_key(key).address, hex(10**21)]}  # fmt: skip
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert "error" not in json.loads(answer.read())


# ------------------------------------------------------------------------------- PostgreSQL


def test_a_postgresql_node_is_dumped_and_restored_into_another_schema(tmp_path: Path) -> None:
    from tests.store_backends import postgres_schema

    with postgres_schema() as source, postgres_schema() as target:
        home = tmp_path / "home"
        node = _open(home, database_url=source)
        try:
            pid, consumer = _populate(node)
            before = _facts(node, pid)
        finally:
            node.close()
        done = _invoke("backup", str(tmp_path / "pg"), "--home", str(home),
                       "--database-url", source)  # fmt: skip
        assert done.exit_code == 0, done.output
        manifest = json.loads((tmp_path / "pg" / "manifest.json").read_text())
        assert manifest["database"]["backend"] == "postgresql"
        assert manifest["database"]["schema"].startswith("t_")
        assert "postgres@" not in (tmp_path / "pg" / "manifest.json").read_text()
        shutil.rmtree(home)
        new_home = tmp_path / "new"
        into_sqlite = _invoke("restore", str(tmp_path / "pg"), "--home", str(new_home))
        assert into_sqlite.exit_code == 1 and "PostgreSQL dump" in into_sqlite.output
        into_used = _invoke("restore", str(tmp_path / "pg"), "--home", str(new_home),
                            "--database-url", source)  # fmt: skip
        assert into_used.exit_code == 1 and "is not empty" in into_used.output
        assert not new_home.exists()
        done = _invoke("restore", str(tmp_path / "pg"), "--home", str(new_home),
                       "--database-url", target)  # fmt: skip
        assert done.exit_code == 0, done.output
        again = _open(new_home, database_url=target)
        try:
            _check_restored(again, pid, before, consumer, new_home)
        finally:
            again.close()


# ---------------------------------------------------------------------------------- failures


def _copy_backup(saved: dict[str, Any], tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(saved["folder"], copy)
    return copy


def _refused(source: Path, home: Path, message: str) -> None:
    done = _invoke("restore", str(source), "--home", str(home))
    assert done.exit_code == 1, done.output
    assert done.output.startswith("error: ") and message in done.output, done.output
    assert len(done.output.strip().splitlines()) == 1
    if home.exists():
        assert home.is_file() or list(home.iterdir()) == [] or message == "is not empty"
    leftovers = [p.name for p in home.parent.iterdir() if ".restoring" in p.name]
    assert not leftovers and not list(home.parent.glob(".fairwheel-backup-*"))


def test_a_corrupt_file_is_found_before_anything_is_written(saved, tmp_path: Path) -> None:
    copy = _copy_backup(saved, tmp_path)
    blob = next(p for p in sorted((copy / "home/blobs/data").rglob("*")) if p.is_file())
    data = bytearray(blob.read_bytes())
    data[0] ^= 1
    blob.write_bytes(bytes(data))
    _refused(copy, tmp_path / "home", "does not match its hash")
    assert not (tmp_path / "home").exists()


def test_a_missing_file_and_a_foreign_manifest_are_refused(saved, tmp_path: Path) -> None:
    copy = _copy_backup(saved, tmp_path)
    (copy / "home/chain/state.json").unlink()
    _refused(copy, tmp_path / "home", "home/chain/state.json is missing")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["../escape"] = {"sha256": "0", "size": 0}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    _refused(copy, tmp_path / "home", "outside the backup")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format_version=99), "backup format 99"),
        (lambda m: m["database"].update(schema_version=10_000), "newer than this Fairwheel"),
        (lambda m: m.update(format="something-else"), "not a Fairwheel backup"),
    ],
)
def test_a_backup_of_another_version_is_refused(saved, tmp_path: Path, edit, message) -> None:
    copy = _copy_backup(saved, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    _refused(copy, tmp_path / "home", message)


def test_missing_damaged_and_unrelated_inputs_are_one_line_each(saved, tmp_path: Path) -> None:
    _refused(tmp_path / "nowhere", tmp_path / "home", "no backup at")
    (tmp_path / "notes.txt").write_text("hello")
    _refused(tmp_path / "notes.txt", tmp_path / "home", "not a Fairwheel backup")
    raw = saved["archive"].read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(raw[: len(raw) // 2])
    _refused(tmp_path / "cut.tar.gz", tmp_path / "home", "damaged")
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", tmp_path / "home", "no manifest.json")


def test_a_used_home_or_another_backend_is_refused(saved, tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    _refused(saved["folder"], used, "is not empty")
    assert (used / "keep.txt").read_text() == "mine"
    done = _invoke("restore", str(saved["folder"]), "--home", str(tmp_path / "h"),
                   "--database-url", "postgresql://u:secret@127.0.0.1:1/db")  # fmt: skip
    assert done.exit_code == 1 and "holds a SQLite database" in done.output
    assert "secret" not in done.output


def test_backups_that_could_not_be_reopened_are_not_written(saved, tmp_path: Path) -> None:
    embedded = _invoke("backup", str(tmp_path / "b"), "--home", str(tmp_path),
                       "--chain-url", "embedded://")  # fmt: skip
    assert embedded.exit_code == 1 and "embedded chain" in embedded.output
    nothing = _invoke("backup", str(tmp_path / "b"), "--home", str(tmp_path / "none"))
    assert nothing.exit_code == 1 and "no node home" in nothing.output
    exists = _invoke("backup", str(saved["folder"]), "--home", str(tmp_path))
    assert exists.exit_code == 1 and "already exists" in exists.output
    assert not (tmp_path / "b").exists()
