"""The demo end to end with the real embedding model, on generated data and on banking77."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fairwheel.sim.demo import DemoConfig, run_demo
from tests.conftest import SHARED_DATA

BANKING77 = SHARED_DATA / "banking77" / "train.csv"


@pytest.mark.model
def test_demo_turn_passes_every_check(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(
        DemoConfig(home=tmp_path / "home", records=150, searches=12, predictions=12),
        say=lines.append,
    )
    failed = [name for name, ok in result.checks.items() if not ok]
    assert not failed, "\n".join(lines)
    out = "\n".join(lines)
    assert "conservation [OK]" in out
    assert result.figures["model_accuracy"] > 0.6
    assert result.figures["rejected_by_reason"]["duplicate"] >= 6
    assert (tmp_path / "home" / "demo-report.json").is_file()


@pytest.mark.model
@pytest.mark.skipif(not BANKING77.is_file(), reason="../shared/data/banking77 is not present")
def test_demo_runs_on_a_users_csv(tmp_path: Path) -> None:
    result = run_demo(
        DemoConfig(home=tmp_path / "home", data=BANKING77, limit=800, searches=8, predictions=8),
        say=lambda _: None,
    )
    assert result.ok, result.checks


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.skipif(not BANKING77.is_file(), reason="../shared/data/banking77 is not present")
def test_cli_demo_on_all_of_banking77(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fairwheel.cli", "demo", "--data", str(BANKING77),
         "--home", str(tmp_path / "home")],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "conservation [OK]" in proc.stdout
