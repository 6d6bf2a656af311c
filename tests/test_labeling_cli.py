"""``fairwheel labels aggregate``: outputs on a generated CSV, clear errors on bad ones."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from fairwheel.cli.labels import labels_app
from fairwheel.labeling.simulate import answers_for, crowd

# Registered the way fairwheel.cli does it.
app = typer.Typer()
app.add_typer(labels_app, name="labels")


@app.callback()
def _root() -> None:
    """Stand-in for the main app."""


runner = CliRunner()


def _generated(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 400)
    rows = answers_for(truth, crowd(12, 2, 1, rng), 5, rng, 3)
    names = ["cat", "dog", "fox"]
    path = tmp_path / "answers.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["task", "worker", "label", "extra"])
        for t, who, lab in rows:
            w.writerow([t, who, names[int(lab[1:])], "ignored"])
    return path, {f"t{i:05d}": names[z] for i, z in enumerate(truth)}


@pytest.mark.parametrize("method", ["ds", "mv"])
def test_aggregate_writes_labels_and_workers(tmp_path: Path, method: str) -> None:
    answers, truth = _generated(tmp_path)
    out, workers = tmp_path / "labels.csv", tmp_path / "workers.csv"
    args = ["labels", "aggregate", str(answers), "--out", str(out), "--workers-out", str(workers)]
    result = runner.invoke(app, [*args, "--method", method])
    assert result.exit_code == 0, result.output
    assert "2000 answers, 400 tasks, 15 workers, 3 labels" in result.output
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["task", "label", "confidence"] and len(rows) == 400
    assert all(0 <= float(r["confidence"]) <= 1 for r in rows)
    assert np.mean([truth[r["task"]] == r["label"] for r in rows]) > 0.8
    with workers.open() as fh:
        ws = list(csv.DictReader(fh))
    assert list(ws[0]) == ["worker", "accuracy", "answers"] and len(ws) == 15
    assert sum(int(w["answers"]) for w in ws) == 2000
    worst = min(ws, key=lambda w: float(w["accuracy"]))
    assert worst["worker"].startswith("a")  # the adversary
    if method == "ds":
        assert float(worst["accuracy"]) < 0.1


def test_workers_out_is_optional_and_headers_are_forgiving(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("\ufeff Label ,TASK,Worker\nyes,q1,ann\nno,q1,bob\nyes,q2,ann\n\n")
    out = tmp_path / "l.csv"
    result = runner.invoke(app, ["labels", "aggregate", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == "task,label,confidence"
    assert [r.split(",")[0] for r in out.read_text().splitlines()[1:]] == ["q1", "q2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("task,worker\nt,w\n", "missing column(s) label"),
        ("task,worker,label\n", "no answers"),
        ("task,worker,label\nt,,a\n", "line 2: empty"),
        ("task,worker,label\nt,w\n", "line 2: too few fields"),
    ],
)
def test_bad_csv_fails_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = runner.invoke(app, ["labels", "aggregate", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert message in result.output and "error:" in result.output
    assert not (tmp_path / "o").exists()


def test_missing_file_and_bad_method(tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    result = runner.invoke(app, ["labels", "aggregate", str(tmp_path / "nope.csv"), "--out", out])
    assert result.exit_code == 1 and "no such file" in result.output
    path, _ = _generated(tmp_path)
    result = runner.invoke(app, ["labels", "aggregate", str(path), "--out", out, "--method", "x"])
    assert result.exit_code != 0


def test_importing_the_cli_loads_no_numerics() -> None:
    code = (
        "import sys; import fairwheel.cli.labels; "
        "print([m for m in ('numpy', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
