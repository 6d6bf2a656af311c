"""Slither finds nothing in the contracts (accepted findings are answered in docs/protocol.md).

Slow: the first run installs Slither into .venv-slither (scripts/slither.sh). Run with
``FAIRWHEEL_SLOW=1 scripts/test.sh`` or ``pytest -m slow tests/test_slither.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "contracts" / "src"
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed to compile (solc-js)")
def test_slither_reports_nothing() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "slither.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert re.search(r"analyzed \(\d+ contracts with \d+ detectors\), 0 result\(s\) found", output)


def test_every_silenced_finding_is_answered_in_the_docs() -> None:
    """Each ``slither-disable`` in the sources names a detector the protocol doc answers."""
    silenced = set()
    for path in SOURCES.glob("*.sol"):
        for match in re.finditer(r"slither-disable-next-line ([\w,-]+)", path.read_text()):
            silenced.update(match.group(1).split(","))
    assert silenced, "expected some accepted findings"
    doc = PROTOCOL_DOC.read_text()
    section = doc[doc.index("## Static analysis") :]
    for detector in sorted(silenced):
        assert f"`{detector}`" in section, f"{detector} is silenced but not answered"
