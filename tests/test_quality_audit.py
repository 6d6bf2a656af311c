"""``fairwheel quality audit``: the offline audit of any labelled text CSV."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairwheel.cli.quality import quality_app
from fairwheel.embed import FakeHashEmbedder
from fairwheel.quality.audit import COLUMNS, audit
from fairwheel.quality.synthetic import typo
from fairwheel.sim.data import synthetic_support_queries

runner = CliRunner()


def make_csv(path: Path, n: int = 300) -> dict[str, list[int]]:
    """A labelled CSV with planted problems; returns the rows of each problem."""
    rng = random.Random(3)
    examples = synthetic_support_queries(n, seed=9)
    rows = [[e.text, e.label] for e in examples]
    labels = sorted({e.label for e in examples})
    flipped = rng.sample(range(n), 12)
    for i in flipped:
        rows[i][1] = next(lab for lab in labels if lab != rows[i][1])
    planted = {"flipped": flipped, "exact": [], "near": [], "junk": []}
    extra = [
        ("exact", [rows[7][0].upper() + "  ", rows[7][1]]),
        ("near", [typo(rows[8][0], rng).lower() + " thanks", rows[8][1]]),
        ("junk", ["qzxv bnmw trrpl kkjh vvcx", labels[0]]),
        ("junk", ["$$$ 123 !!! ###", labels[1]]),
        ("junk", ["", labels[1]]),
    ]
    for kind, row in extra:
        planted[kind].append(len(rows))
        rows.append(row)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "utterance", "intent"])
        writer.writerows([i, t, lab] for i, (t, lab) in enumerate(rows))
    return planted


def read_report(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_audit_cli_flags_planted_problems(tmp_path: Path) -> None:
    data, out = tmp_path / "data.csv", tmp_path / "report.csv"
    planted = make_csv(data)
    result = runner.invoke(
        quality_app,
        ["audit", str(data), "--text-col", "utterance", "--label-col", "intent",
         "--out", str(out), "--embedder", "fake-hash://384"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"rows": 305' in result.output
    report = read_report(out)
    assert [int(r["row"]) for r in report] == list(range(305))
    by_row = {int(r["row"]): r for r in report}
    exact = by_row[planted["exact"][0]]
    assert exact["status"] == "rejected" and exact["duplicate_of"] == "7"
    assert exact["reasons"].startswith("duplicate duplicate_of 7")
    near = by_row[planted["near"][0]]
    assert near["status"] == "rejected" and near["duplicate_of"] == "8"
    assert near["reasons"].startswith("near_duplicate duplicate_of 8")
    for row in planted["junk"]:
        assert by_row[row]["status"] == "rejected", by_row[row]
    assert by_row[planted["junk"][-1]]["reasons"].startswith("too_short")
    # Flipped labels rank at the top of the label-issue scores.
    scores = sorted(by_row, key=lambda r: -float(by_row[r]["label_issue_score"]))
    assert len(set(scores[:15]) & set(planted["flipped"])) >= 10
    quarantined = {r for r, v in by_row.items() if v["reasons"].startswith("label_issue")}
    assert len(quarantined & set(planted["flipped"])) >= 6
    assert len(quarantined - set(planted["flipped"])) <= 2
    for r in report:
        assert r["status"] in ("accepted", "quarantined", "rejected")
        assert 0.0 <= float(r["score"]) <= 1.0 and 0.0 <= float(r["label_issue_score"]) <= 1.0
        assert (float(r["score"]) > 0) == (r["status"] == "accepted")


def test_audit_cli_refuses_missing_columns_and_files(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("text,category\nhello there,greet\n", encoding="utf-8")
    out = tmp_path / "r.csv"
    result = runner.invoke(
        quality_app, ["audit", str(data), "--out", str(out), "--embedder", "fake-hash://8"]
    )
    assert result.exit_code == 1 and "label" in result.output and not out.exists()
    result = runner.invoke(quality_app, ["audit", str(tmp_path / "nope.csv"), "--out", str(out)])
    assert result.exit_code == 1 and "no such file" in result.output


def test_rows_of_one_contributor_are_not_near_duplicates_of_each_other() -> None:
    base = "How long does a transfer from Europe usually take to arrive?"
    texts = [base, base + " thanks", base + " please"]
    labels = ["transfer"] * 3
    emb = FakeHashEmbedder(64)
    rows = audit(texts, labels, emb, contributors=["a", "a", "b"])
    assert [r.status for r in rows] == ["accepted", "accepted", "rejected"]
    assert rows[2].duplicate_of == 0
    rows = audit(texts, labels, emb)
    assert [r.status for r in rows] == ["accepted", "rejected", "rejected"]


@pytest.mark.model
def test_audit_with_the_real_model(tmp_path: Path) -> None:
    data, out = tmp_path / "data.csv", tmp_path / "report.csv"
    planted = make_csv(data, n=150)
    result = runner.invoke(
        quality_app,
        ["audit", str(data), "--text-col", "utterance", "--label-col", "intent",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    by_row = {int(r["row"]): r for r in read_report(out)}
    assert by_row[planted["exact"][0]]["duplicate_of"] == "7"
    assert by_row[planted["near"][0]]["duplicate_of"] == "8"
    assert all(by_row[r]["status"] == "rejected" for r in planted["junk"])
    accepted = sum(r["status"] == "accepted" for r in by_row.values())
    assert accepted >= 150 - 12 - 8
