"""Small and degenerate inputs to the audit: an answer (with the checks it skipped), never a crash.

Issue #17 item 3: a clean 80-row, 4-label CSV crashed ``fairwheel quality audit`` ("the label
model needs a bigger pool") and so did single-label files. Each size below goes through the CLI
entry point and through the library function.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fairwheel.cli.quality import quality_app
from fairwheel.embed import FakeHashEmbedder
from fairwheel.errors import Conflict, SchemaError
from fairwheel.quality.audit import CHECKS, read_csv, run_audit
from fairwheel.quality.gate import GatePolicy
from fairwheel.quality.label_issues import LabelModel, label_issues
from fairwheel.sim.data import synthetic_support_queries

runner = CliRunner()
FOUR = ("account_locked", "card_lost", "change_address", "exchange_rate")


def four_label_rows(n: int) -> list[tuple[str, str]]:
    """``n`` distinct support queries over four labels, the labels interleaved."""
    rows = [(e.text, e.label) for e in synthetic_support_queries(400, seed=9) if e.label in FOUR]
    assert len(rows) >= n
    return rows[:n]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def run_cli(data: Path, out: Path) -> tuple[int, dict[str, Any], str]:
    """Exit code, the JSON summary on stdout, and stderr."""
    result = runner.invoke(
        quality_app, ["audit", str(data), "--out", str(out), "--embedder", "fake-hash://64"]
    )
    summary = json.loads(result.stdout) if result.exit_code == 0 else {}
    return result.exit_code, summary, result.stderr


def not_run(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = summary["checks_not_run"]
    return {str(e["check"]): e for e in entries}


@pytest.mark.parametrize("n", [1, 2, 10])
def test_tiny_files_answer_and_name_the_checks_they_skip(tmp_path: Path, n: int) -> None:
    data = write_csv(tmp_path / "data.csv", four_label_rows(n))
    code, summary, stderr = run_cli(data, tmp_path / "report.csv")
    assert code == 0, stderr
    assert summary["rows"] == n and summary["status"] == {"accepted": n}
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as fh:
        assert [int(r["row"]) for r in csv.DictReader(fh)] == list(range(n))
    skipped = not_run(summary)
    labels = skipped["label_issues"]
    assert labels["status"] == "skipped" and (labels["needs"], labels["has"]) == (50, n)
    assert skipped["junk_pool"]["needs"] == 50 and skipped["junk_pool"]["has"] == n
    assert ("exact_duplicate" in skipped) == (n == 1)
    assert (
        f"skipped: label_issues: needs 50 labelled rows that pass the earlier checks, has {n}"
        in stderr
    )
    ran = summary["checks_ran"]
    assert {"schema", "junk_rules"} <= set(ran)
    assert set(ran) | set(skipped) == set(CHECKS)


def test_eighty_rows_in_four_labels_get_the_label_check(tmp_path: Path) -> None:
    rows = four_label_rows(80)
    # A near copy of row 3: rejected after it was embedded, so it is scored by the pool's label
    # model (before issue #17's fix, a pool too small to fit one crashed here).
    rows.append((rows[3][0] + " thanks", rows[3][1]))
    data = write_csv(tmp_path / "data.csv", rows)
    code, summary, stderr = run_cli(data, tmp_path / "report.csv")
    assert code == 0, stderr
    assert summary["rows"] == 81 and summary["not_accepted_by"].get("near_duplicate") == 1
    # The audit judges classes of 5+ rows: 20 per class is enough.
    assert set(summary["checks_ran"]) == set(CHECKS) and "label_issues" not in stderr
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as fh:
        report = list(csv.DictReader(fh))
    assert float(report[80]["label_issue_score"]) > 0  # scored by the pool's model

    # The gate's policy needs 25 rows per class: the check runs in part, with scores only.
    texts, labs = read_csv(data, "text", "label")
    result = run_audit(texts, labs, FakeHashEmbedder(64), GatePolicy())
    assert [c.name for c in result.checks] == list(CHECKS)
    (labels,) = result.not_run
    assert labels.name == "label_issues" and labels.status == "partial"
    assert (labels.needs, labels.has, labels.unit) == (2, 0, "classes of 25+ rows")
    assert labels.detail.startswith("scores only")
    kept = [r for r in result.rows if r.status == "accepted"]
    assert len(kept) == 80 and any(r.label_issue_score > 0 for r in kept)  # scored out of sample
    assert all(
        "label unchecked: too few rows of this class (20, needs 25)" in r.reasons for r in kept
    )
    assert result.rows[80].duplicate_of == 3


def test_single_label_file_answers_without_the_label_check(tmp_path: Path) -> None:
    rows = [(e.text, e.label) for e in synthetic_support_queries(400, seed=9) if e.label == FOUR[0]]
    rows = [*rows[:60], ("qzxv bnmw trrpl kkjh vvcx", FOUR[0]), (rows[5][0] + " thanks", FOUR[0])]
    data = write_csv(tmp_path / "data.csv", rows)
    code, summary, stderr = run_cli(data, tmp_path / "report.csv")
    assert code == 0, stderr
    assert summary["rows"] == 62
    labels = not_run(summary)["label_issues"]
    assert labels["status"] == "skipped" and (labels["needs"], labels["has"]) == (2, 1)
    assert labels["unit"] == "classes"
    assert f"needs 2 classes, has 1 ('{FOUR[0]}'" in stderr

    result = run_audit(*read_csv(data, "text", "label"), FakeHashEmbedder(64))
    assert result.rows[60].status == "rejected" and result.rows[61].duplicate_of == 5
    assert all(r.label_issue_score == 0.0 for r in result.rows)
    accepted = [r for r in result.rows if r.status == "accepted"]
    assert accepted and all("label unchecked: one class only" in r.reasons for r in accepted)


def test_header_only_file_is_an_empty_report(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data.csv", [])
    code, summary, stderr = run_cli(data, tmp_path / "report.csv")
    assert code == 0, stderr
    assert summary["rows"] == 0 and summary["checks_ran"] == ["schema"]
    assert (tmp_path / "report.csv").read_text(encoding="utf-8").startswith("row,status")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: it needs a header row"),
        (b"text,label\n\xff\xfe oops,a\n", "is not UTF-8 text"),
        (b"words,label\nhello there,a\n", "has no column(s) ['text']"),
    ],
)
def test_unreadable_files_fail_with_one_typed_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    result = runner.invoke(
        quality_app,
        ["audit", str(data), "--out", str(tmp_path / "r.csv"), "--embedder", "fake-hash://8"],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: schema_error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "r.csv").exists()
    with pytest.raises(SchemaError, match=r"UTF-8|header|no column"):
        read_csv(data, "text", "label")


def test_missing_report_folder_fails_before_any_work(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "data.csv", four_label_rows(3))
    result = runner.invoke(
        quality_app, ["audit", str(data), "--out", str(tmp_path / "no" / "r.csv")]
    )
    assert result.exit_code == 1 and "no such folder" in result.stderr


def test_label_model_of_a_small_pool_refuses_with_a_typed_error() -> None:
    rows = four_label_rows(80)
    vectors = FakeHashEmbedder(64).embed([t for t, _ in rows])
    labels = [lab for _, lab in rows]
    model = LabelModel(vectors, labels, label_issues(vectors, labels))
    assert not model.fitted
    assert model.judge(vectors[0], labels[0]) == (
        0.0, False, "label unchecked: too few records of this class"
    )  # fmt: skip
    with pytest.raises(Conflict, match="needs a bigger pool: 80 labelled records"):
        model.probs(vectors[:1])
