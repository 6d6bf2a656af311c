"""The dry run of the contribution gate (issue #18): per row what submission would do, and why,
with nothing written — on the node, over HTTP and from both CLI verbs.

Each preview is checked twice: against the statuses and reasons expected, and against what the
real gate then does with the same rows signed and submitted (the preview must not drift from
the gate). The node's state — records, nonces, every table's rows, reputations, the index, the
near-duplicate finder and the blobs — is compared before and after each preview.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fairwheel.chain.local import find_anvil
from fairwheel.cli import app
from fairwheel.sim.data import synthetic_support_queries
from tests.contributor_support import new_contributor
from tests.test_api_support import live_server

runner = CliRunner()


def upload(examples: list[Any]) -> list[tuple[str, str | None]]:
    """A good row, an unknown label, a too-short row, a copy of a stored record, a row twice
    in the file, and junk."""
    return [
        (examples[70].text, examples[70].label),
        (examples[71].text, "no_such_label"),
        ("hi", examples[0].label),
        (examples[0].text, examples[0].label),
        (examples[72].text, examples[72].label),
        (examples[72].text, examples[72].label),
        ("zzzzzzzzzzzzzzzzzzzzzzzzzz", examples[1].label),
    ]


EXPECTED = [
    ("accepted", "accepted"),
    ("rejected", "unknown_label"),
    ("rejected", "too_short"),
    ("rejected", "duplicate"),
    ("accepted", "accepted"),
    ("rejected", "duplicate"),
    ("rejected", "junk"),
]


def verdicts(results: list[Any]) -> list[tuple[str, str]]:
    """``(status, reason code)`` of the real gate's results, as a preview names them."""
    return [(r.status, "accepted" if r.status == "accepted" else r.reasons[0].split()[0])
            for r in results]  # fmt: skip


def snapshot(node: Any, pid: int, who: str) -> dict[str, Any]:
    """Everything a preview must leave as it was."""
    state = node.pool_gate(pid)
    index = node.index(pid)
    out: dict[str, Any] = {
        "records": [(r["id"], r["status"], tuple(r["reasons"])) for r in node.queries.records(pid)],
        "counts": node.queries.status_counts(pid),
        "reputation": node.reputation(pid, who),
        "remaining": state.reputation.remaining(who, int(time.time())),
        "flagged": state.reputation.flagged(),
        "slash_report": state.reputation.slash_report(),
        "index": (len(index), sorted(index.ids()), index.generation),
        "finder": len(state.finder),
        "blobs": sorted(p.name for p in (node.settings.home / "blobs").rglob("*") if p.is_file()),
    }
    url = node.settings.database_url
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(f"file:{url[len('sqlite:///'):]}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            out["tables"] = {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                             for t in tables}  # fmt: skip
        finally:
            db.close()
    return out


def test_a_preview_says_what_the_gate_would_do_and_writes_nothing(seeded: Any) -> None:
    node, pid, examples = seeded
    me = new_contributor(node)
    rows = upload(examples)
    before = snapshot(node, pid, me.address)
    preview = node.preview(pid, rows, me.address)
    assert snapshot(node, pid, me.address) == before
    assert [(r.status, r.reason) for r in preview.rows] == EXPECTED
    assert preview.counts == {"accepted": 2, "rejected": 5}
    assert preview.contributor == me.address.lower()
    unknown, short, stored, twice = (preview.rows[i] for i in (1, 2, 3, 5))
    labels = sorted({e.label for e in examples})
    assert unknown.hint == f"use one of the pool's {len(labels)} labels: {', '.join(labels)}"
    assert short.hint.startswith("write at least 3 characters")
    first_owner = node.queries.records(pid)[0]["id"]
    assert stored.duplicate_of == first_owner and f"record {first_owner}" in stored.hint
    assert twice.duplicate_of_row == 4 and twice.hint.startswith("row 4 of this upload")
    assert preview.rows[0].score > 0 and preview.rows[0].hint == ""
    assert any("signature" in note for note in preview.notes)

    # The real gate, given the same rows signed, agrees row by row.
    now = node.onchain.now()
    results = node.submit(pid, [me.submission(pid, t, lab, now=now) for t, lab in rows])
    assert verdicts(results) == EXPECTED


def test_a_preview_without_a_contributor_judges_a_new_one(seeded: Any) -> None:
    node, pid, examples = seeded
    preview = node.preview(pid, upload(examples))
    assert [(r.status, r.reason) for r in preview.rows] == EXPECTED
    assert preview.contributor == "0x" + "0" * 40
    assert any("new contributor" in note for note in preview.notes)


def test_the_rate_limit_is_previewed_and_honest_mistakes_do_not_use_it(node_factory: Any) -> None:
    node = node_factory(rate_limit_per_hour=3)
    pool = node.create_pool("p", search_price=1, predict_price=1, operator_fee_bps=0,
                            builder_share_bps=0, labels=["a", "b"])  # fmt: skip
    pid = int(pool["id"])
    me = new_contributor(node)
    rows: list[tuple[str, str | None]] = [(f"question {w} about my card", "c")
                                          for w in ("one", "two", "three")]  # fmt: skip
    rows += [(f"question {w} about my account", "a") for w in ("four", "five", "six", "seven")]
    preview = node.preview(pid, rows, me.address)
    got = [(r.status, r.reason) for r in preview.rows]
    assert got == [("rejected", "unknown_label")] * 3 + [("accepted", "accepted")] * 3 + [
        ("rejected", "rate_limited")
    ]
    assert preview.rows[-1].hint.startswith("over the 3 submissions per hour")
    now = node.onchain.now()
    results = node.submit(pid, [me.submission(pid, t, lab, now=now) for t, lab in rows])
    assert verdicts(results) == got


def test_the_preview_route_and_the_remote_verb(seeded: Any, tmp_path: Path) -> None:
    node, pid, examples = seeded
    me = new_contributor(node)
    rows = upload(examples)
    before = snapshot(node, pid, me.address)
    with live_server(node, rate_per_second=0) as live:
        url = f"{live.url}/v1/pools/{pid}/preview"
        body = {"rows": [{"text": t, "label": lab} for t, lab in rows],
                "contributor": me.address}  # fmt: skip
        answer = httpx.post(url, json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert [(r["status"], r["reason"]) for r in answer.json()["rows"]] == EXPECTED
        refused = {
            "no rows": (url, {"rows": []}, 422),
            "1,001 rows": (url, {"rows": [{"text": f"row {i}"} for i in range(1001)]}, 422),
            "bad address": (url, {"rows": [{"text": "a row"}], "contributor": "0x12"}, 422),
            "unknown field": (url, {"rows": [{"text": "a row", "lable": "a"}]}, 422),
            "unknown pool": (f"{live.url}/v1/pools/999/preview", {"rows": [{"text": "x"}]}, 404),
        }
        for name, (target, bad, status) in refused.items():
            got = httpx.post(target, json=bad, timeout=30)
            assert got.status_code == status, (name, got.text)
            assert got.json()["message"], name

        csv_file = tmp_path / "upload.csv"
        lines = ["text,label", *(f'"{t}",{lab}' for t, lab in rows)]
        csv_file.write_text("\n".join(lines) + "\n")
        key = "0x" + bytes(me.account.key).hex()
        result = runner.invoke(app, ["remote", "--url", live.url, "preview", str(pid),
                                     str(csv_file)], env={"FAIRWHEEL_KEY": key})  # fmt: skip
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        assert printed["contributor"] == me.address.lower()
        assert [(r["status"], r["reason"]) for r in printed["rows"]] == EXPECTED
        assert [r["line"] for r in printed["rows"]] == list(range(2, 2 + len(rows)))
        assert "2 accepted, 5 rejected" in result.stderr
    assert snapshot(node, pid, me.address) == before


@pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")
def test_pool_preview_on_a_local_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"FAIRWHEEL_HOME": str(home), "FAIRWHEEL_EMBEDDER_URL": "fake-hash://384"}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    made = runner.invoke(app, ["pool", "create", "p", "--search-price", "1", "--predict-price",
                               "1", "--operator-fee-bps", "0", "--builder-share-bps", "0",
                               "--labels", "a,b"], env=env)  # fmt: skip
    assert made.exit_code == 0, made.output
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text("text,label\nhow do I reset the pin of my card,a\nhi,a\n"
                        "where is the refund for my order,zzz\n"
                        "how do I reset the pin of my card,b\n")  # fmt: skip
    result = runner.invoke(app, ["pool", "preview", "1", str(csv_file), "--no-progress"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["line"], r["status"], r["reason"]) for r in rows] == [
        (2, "accepted", "accepted"), (3, "rejected", "too_short"),
        (4, "rejected", "unknown_label"), (5, "rejected", "duplicate"),
    ]  # fmt: skip
    assert rows[2]["hint"] == "use one of the pool's 2 labels: a, b"
    shown = runner.invoke(app, ["pool", "show", "1"], env=env)
    assert json.loads(shown.stdout)["records"] == {}, "a preview stored records"


def test_rows_past_the_rate_limit_are_not_embedded(node_factory: Any) -> None:
    """A preview costs no more embedding than the submission could: rows past the
    contributor's remaining rate-limit slots are rate_limited without reaching the embedder,
    and honest mistakes take no slot."""
    node = node_factory(rate_limit_per_hour=3)
    examples = synthetic_support_queries(10, seed=5)
    labels = sorted({e.label for e in examples})
    pid = int(node.create_pool("p", search_price=1, predict_price=1, operator_fee_bps=0,
                               builder_share_bps=0, labels=labels)["id"])  # fmt: skip
    embedded: list[str] = []
    real = node.ports.embedder

    class CountingEmbedder:  # a fake wrapper: the real embedder, with a count of its texts
        dim = real.dim

        def embed(self, texts: list[str]) -> Any:
            embedded.extend(texts)
            return real.embed(texts)

    node.ports._embedder = CountingEmbedder()
    rows = [(examples[0].text, "no_such_label")] + [(e.text, e.label) for e in examples[1:6]]
    result = node.preview(pid, rows, None)
    reasons = [(r.status, r.reason) for r in result.rows]
    assert reasons[0] == ("rejected", "unknown_label")
    assert [r for _, r in reasons[4:]] == ["rate_limited", "rate_limited"]
    assert embedded == [e.text for e in examples[1:4]]
