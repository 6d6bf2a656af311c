"""The CLI: fast help, clear errors, non-zero exit on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from fairwheel.cli import app

runner = CliRunner()


def test_help_lists_the_demo() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from fairwheel.cli import app; "
        "heavy = [m for m in ('torch', 'web3', 'sklearn', 'onnxruntime', 'hnswlib') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_demo_refuses_missing_data_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--data", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_demo_refuses_non_empty_home(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("occupied")
    result = runner.invoke(app, ["demo", "--home", str(tmp_path)])
    assert result.exit_code == 1 and "not empty" in result.output


def test_epoch_check_reports_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "e.jsonl"
    bad.write_text('{"type": "header", "format": "other"}\n')
    result = runner.invoke(app, ["epoch", "check", str(bad)])
    assert result.exit_code == 1 and "verification_failed" in result.output


def test_serve_refuses_several_workers_it_cannot_share(tmp_path: Path) -> None:
    """Several workers need a shared database and a chain outside the process: refused before
    anything opens, with the reason and what to set."""
    cases = [
        (["--chain-url", "embedded://"], "needs a database every worker can share"),
        (["--database-url", "postgresql://u:secret@127.0.0.1:1/x", "--chain-url", "embedded://"],
         "needs a chain outside the server process"),
    ]  # fmt: skip
    for extra, message in cases:
        result = runner.invoke(
            app, ["serve", "--workers", "2", "--home", str(tmp_path / "h"), *extra]
        )
        assert result.exit_code == 1 and message in result.output, result.output
        assert "secret" not in result.output and not (tmp_path / "h").exists()
