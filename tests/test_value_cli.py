"""``fairwheel value`` agrees with an independent, plain-Python exact KNN-Shapley."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairwheel.cli import app

runner = CliRunner()


def reference_knn_shapley(train, valid, k: int) -> list[float]:
    """Jia et al. (2019) Theorem 1, one validation point at a time, no numpy.

    Neighbours are ordered by Euclidean distance, then by row number.
    """
    n = len(train)
    totals = [0.0] * n
    for vx, vy in valid:
        order = sorted(range(n), key=lambda i: (math.dist(train[i][0], vx), i))
        s = [0.0] * (n + 1)  # s[rank], rank 1..n
        u = [0.0] + [1.0 if train[i][1] == vy else 0.0 for i in order]
        s[n] = u[n] * min(k, n) / (k * n)
        for rank in range(n - 1, 0, -1):
            s[rank] = s[rank + 1] + (u[rank] - u[rank + 1]) / k * min(k, rank) / rank
        for rank, i in enumerate(order, start=1):
            totals[i] += s[rank]
    return [t / len(valid) for t in totals]


def _write(path: Path, rows) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["f1", "f2", "label"])
        for (a, b), label in rows:
            writer.writerow([a, b, label])


@pytest.mark.parametrize("k", [1, 3, 7])
def test_value_matches_reference_to_1e_9(tmp_path: Path, k: int) -> None:
    rng = random.Random(k)
    # A small integer grid, so many distances tie and the row-number tie-break matters.
    train = [((rng.randint(0, 4), rng.randint(0, 4)), rng.choice("abc")) for _ in range(40)]
    valid = [((rng.randint(0, 4), rng.randint(0, 4)), rng.choice("abc")) for _ in range(15)]
    _write(tmp_path / "train.csv", train)
    _write(tmp_path / "valid.csv", valid)
    out = tmp_path / "values.csv"
    result = runner.invoke(
        app,
        ["value", str(tmp_path / "train.csv"), "--valid", str(tmp_path / "valid.csv"),
         "--k", str(k), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out) as fh:
        got = [(int(r["row"]), float(r["value"])) for r in csv.DictReader(fh)]
    expected = reference_knn_shapley(train, valid, k)
    assert [row for row, _ in got] == list(range(len(train)))
    assert max(abs(v - e) for (_, v), e in zip(got, expected, strict=True)) < 1e-9


def test_value_on_text_uses_the_embedder(tmp_path: Path) -> None:
    for name, rows in {
        "train.csv": [
            ("lost my card", "card"),
            ("card stolen", "card"),
            ("refund please", "refund"),
        ],
        "valid.csv": [("my card is gone", "card")],
    }.items():
        with open(tmp_path / name, "w", newline="") as fh:
            csv.writer(fh).writerows([("text", "label"), *rows])
    out = tmp_path / "v.csv"
    result = runner.invoke(
        app,
        ["value", str(tmp_path / "train.csv"), "--valid", str(tmp_path / "valid.csv"),
         "--k", "1", "--out", str(out), "--embedder", "fake-hash://64"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 4


def test_value_reports_bad_columns(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("f1,label\nx,a\n")
    result = runner.invoke(
        app, ["value", str(tmp_path / "t.csv"), "--valid", str(tmp_path / "t.csv"),
              "--out", str(tmp_path / "o.csv")],
    )  # fmt: skip
    assert result.exit_code == 1 and "numeric" in result.output
