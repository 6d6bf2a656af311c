"""The committed contract artifacts rebuild byte for byte from contracts/src."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fairwheel.chain.artifacts import CONTRACT_NAMES, error_selectors, load_artifact

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "src" / "fairwheel" / "chain" / "artifacts"


@pytest.mark.skipif(
    shutil.which("node") is None,
    reason="node is not installed: the artifact rebuild check needs node + npm (solc-js)",
)
def test_artifacts_rebuild_byte_for_byte() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_contracts.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"artifacts are stale or the build failed:\n{proc.stderr}"
    assert "rebuild byte for byte" in proc.stdout


def test_artifacts_are_complete_and_canonical() -> None:
    assert sorted(p.stem for p in ARTIFACTS.glob("*.json")) == sorted(CONTRACT_NAMES)
    for name in CONTRACT_NAMES:
        text = (ARTIFACTS / f"{name}.json").read_text(encoding="utf-8")
        data = json.loads(text)
        assert text == json.dumps(data, sort_keys=True, indent=1) + "\n"
        assert set(data) == {"abi", "bytecode", "compiler", "contractName", "deployedBytecode"}
        assert data["contractName"] == name
        assert data["compiler"]["version"].startswith("0.8.37+")
        assert data["compiler"]["evmVersion"] == "cancun"
        assert data["compiler"]["optimizer"] == {"enabled": True, "runs": 200}
        assert data["bytecode"].startswith("0x6") and len(data["deployedBytecode"]) > 1000
        assert load_artifact(name) == data


def test_custom_errors_are_in_the_abis() -> None:
    names = {name for name, _, _ in error_selectors().values()}
    expected = {
        "PoolNotFound",
        "NotOperator",
        "NotGuardian",
        "InvalidFeeSplit",
        "InvalidProof",
        "AlreadyRevoked",
        "NothingToRedeem",
        "InsufficientEscrow",
        "InvalidSigner",
        "WithdrawalNotReady",
        "EpochNotIncreasing",
        "EpochNotActive",
        "EpochCancelled",
        "EpochAlreadyActive",
        "NothingToClaim",
        "InsufficientFunding",
        "ECDSAInvalidSignatureS",
        "ERC20InsufficientAllowance",
        "PoolIsPaused",
        "PoolNotPaused",
        "ThawTooShort",
        "UnstakeDelayTooShort",
        "InsufficientStake",
        "NothingToUnstake",
        "UnstakeNotReady",
        "MissingEvidence",
        "ReentrancyGuardReentrantCall",
    }
    assert expected <= names


def test_test_contracts_are_not_shipped() -> None:
    """Test-only contracts (contracts/test) build into tests/artifacts, never into the package."""
    test_artifacts = ROOT / "tests" / "artifacts"
    assert sorted(p.stem for p in test_artifacts.glob("*.json")) == [
        "QuirkyToken",
        "ReentrantToken",
    ]
    shipped = {p.stem for p in ARTIFACTS.glob("*.json")}
    assert not shipped & {"QuirkyToken", "ReentrantToken"}
    for path in test_artifacts.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"
