"""Fixtures for the chain tests, on the embedded chain and on a real node (anvil).

Import them explicitly in a test module::

    from tests.chain_fixtures import chain, chain_url, deployer, protocol, world  # noqa: F401

``chain_url`` is parametrised over ``embedded`` (the in-process EVM) and ``anvil`` (a real
JSON-RPC node: the ``@foundry-rs/anvil`` npm package's binary, started on a free loopback port
for the test session and killed at its end), so every test that uses ``chain`` runs on both;
``pytest -k embedded`` or ``-k anvil`` picks one. Anvil is skipped, with the reason, only when
its binary is missing (``npm ci`` in ``contracts/`` installs it).
Set ``FAIRWHEEL_TEST_CHAIN_URL=http://…`` to run them against another node instead.

Tests stay independent without snapshots: each one makes its own pool and fresh accounts.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fairwheel.chain import Chain, Protocol, TxResult, connect_chain
from fairwheel.chain.abi import ContractAbi
from fairwheel.chain.local import find_anvil, free_port, rpc_answers, stop_process
from fairwheel.errors import ChainError

ACTIVATION_DELAY = 3600
THAW_PERIOD = 7 * 24 * 3600
REDEMPTION_WINDOW = 3 * 24 * 3600
UNSTAKE_DELAY = 3 * 24 * 3600
TOKEN = 10**18

ROOT = Path(__file__).resolve().parents[1]
TEST_ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NODE_MODULES = ROOT / "contracts" / "node_modules"

# ------------------------------------------------------------------------ anvil


def anvil_binary() -> str | None:
    """The anvil executable: ``$FAIRWHEEL_ANVIL``, the npm package's native binary, or PATH."""
    return find_anvil()


@contextlib.contextmanager
def run_anvil(
    binary: str, *extra: str, chain_id: int = 31337, timeout: float = 30.0
) -> Iterator[str]:
    """Run anvil on a free 127.0.0.1 port in a temporary folder; yield its URL; kill it after.

    Raises:
        RuntimeError: If anvil exits or does not answer within ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="fairwheel-anvil-") as home:
        for _attempt in range(3):
            port = free_port()
            args = [
                binary,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--hardfork",
                "prague",
                "--chain-id",
                str(chain_id),
                "--accounts",
                "1",
                "--balance",
                "1000000",
                "--gas-limit",
                "100000000",
                "--silent",
                *extra,
            ]
            log = open(Path(home) / f"anvil-{port}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                args,
                cwd=home,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": home},
                start_new_session=True,
            )
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline and not rpc_answers(url):
                time.sleep(0.05)
            if proc.poll() is None and rpc_answers(url):
                try:
                    yield url
                finally:
                    _stop(proc)
                    log.close()
                return
            _stop(proc)
            log.close()
        output = (Path(home) / f"anvil-{port}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"anvil did not start: {output}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc, grace=5)


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """A fresh anvil node for the test session (skipped if the binary is missing)."""
    binary = anvil_binary()
    if binary is None:
        pytest.skip("anvil binary missing: run `npm ci` in contracts/ (@foundry-rs/anvil)")
    with run_anvil(binary) as url:
        yield url


@contextlib.contextmanager
def pinned_block_time(chain: Chain, interval: int = 0) -> Iterator[bool]:
    """Let a dev node's clock move only when the test says so, for the ``with`` block.

    Every block is stamped ``interval`` seconds after its parent
    (``anvil_setBlockTimestampInterval``), whatever the wall clock did, so chain time is a
    function of the test's own :meth:`Chain.advance_time` steps (exact on a node) and of how many
    blocks it mined, and a snapshot's revert goes back to the snapshot's time. Wall-clock
    stamping comes back at the end. Yields whether the node could pin it (the embedded chain
    and nodes without the method keep stamping blocks with the wall clock).
    """
    if chain.is_embedded or not _node_rpc(chain, "anvil_setBlockTimestampInterval", interval):
        yield False
        return
    try:
        yield True
    finally:
        _node_rpc(chain, "anvil_removeBlockTimestampInterval")


def _node_rpc(chain: Chain, method: str, *params: Any) -> bool:
    response = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    return "error" not in response


def _backends() -> list[str]:
    url = os.environ.get("FAIRWHEEL_TEST_CHAIN_URL")
    return [url] if url else ["embedded", "anvil"]


@pytest.fixture(scope="module", params=_backends())
def chain_url(request: pytest.FixtureRequest) -> str:
    """``embedded://`` or the URL of the session's anvil node."""
    if request.param == "embedded":
        return "embedded://"
    if request.param == "anvil":
        return str(request.getfixturevalue("anvil_url"))
    return str(request.param)


@pytest.fixture(scope="module")
def chain(chain_url: str) -> Iterator[Chain]:
    """A chain with a 1 h activation delay, a 7 d thaw, a 3 d redemption window and unstake."""
    yield connect_chain(
        chain_url,
        activation_delay=ACTIVATION_DELAY,
        thaw_period=THAW_PERIOD,
        redemption_window=REDEMPTION_WINDOW,
        unstake_delay=UNSTAKE_DELAY,
    )


@pytest.fixture(scope="module")
def deployer(chain: Chain) -> Any:
    """The account that deploys the contracts and owns (mints) the FairToken."""
    return chain.new_account(10**20)


@pytest.fixture(scope="module")
def protocol(chain: Chain, deployer: Any) -> Protocol:
    """A fresh deployment of the protocol's contracts."""
    return chain.deploy(deployer)


@dataclass
class World:
    """One pool with its operator and guardian, and helpers to make funded accounts."""

    chain: Chain
    protocol: Protocol
    deployer: Any
    operator: Any
    guardian: Any
    pool_id: int

    def account(self, tokens: int = 0) -> Any:
        """A fresh account with gas money and ``tokens`` FairToken."""
        acct = self.chain.new_account()
        if tokens:
            self.protocol.mint(acct.address, tokens, sender=self.deployer)
        return acct

    def new_pool(self, operator: Any | None = None, **overrides: Any) -> int:
        """Another pool (same guardian); returns its id."""
        params: dict[str, Any] = {
            "guardian": self.guardian.address,
            "search_price": 10**15,
            "predict_price": 10**16,
            "operator_fee_bps": 1000,
            "builder_share_bps": 2000,
            "metadata_hash": os.urandom(32),
        }
        params.update(overrides)
        result = self.protocol.create_pool(sender=operator or self.operator, **params)
        return int(result.value)


@pytest.fixture
def world(chain: Chain, protocol: Protocol, deployer: Any) -> World:
    """A fresh pool, operator (holding 1,000 FAIR) and guardian for one test."""
    operator = chain.new_account()
    guardian = chain.new_account()
    protocol.mint(operator.address, 1000 * TOKEN, sender=deployer)
    w = World(chain, protocol, deployer, operator, guardian, 0)
    w.pool_id = w.new_pool()
    return w


# ------------------------------------------------------------ assertion helpers


def reverts(reason: str) -> Any:
    """``pytest.raises`` for a ChainError with the given decoded custom error."""

    class _Check:
        def __enter__(self) -> None:
            self._ctx = pytest.raises(ChainError)
            self._info = self._ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = self._ctx.__exit__(*exc)
            got = self._info.value.details.get("reason")
            assert got == reason, f"expected {reason}, got {got}: {self._info.value}"
            return bool(handled)

    return _Check()


# --------------------------------------------------------------- test contracts


@cache
def test_artifact(name: str) -> dict[str, Any]:
    """A test-only contract's artifact from ``tests/artifacts`` (built by contracts/build.mjs)."""
    data: dict[str, Any] = json.loads((TEST_ARTIFACTS / f"{name}.json").read_text())
    return data


test_artifact.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


@dataclass
class Deployed:
    """A deployed test-only contract with encode/call/send helpers."""

    chain: Chain
    address: str
    abi: ContractAbi

    def call(self, fn: str, *args: Any) -> Any:
        """Read ``fn(*args)``."""
        raw = self.chain.call(self.address, self.abi.encode_call(fn, args), action=fn)
        return self.abi.decode_output(fn, raw)

    def calldata(self, fn: str, *args: Any) -> bytes:
        """Calldata of ``fn(*args)``."""
        return self.abi.encode_call(fn, args)

    def send(self, fn: str, *args: Any, sender: Any) -> TxResult:
        """Send ``fn(*args)`` from ``sender``."""
        receipt = self.chain.send_transaction(
            sender, self.address, self.abi.encode_call(fn, args), action=fn
        )
        return TxResult(
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            gas_used=int(receipt["gasUsed"]),
            block_number=int(receipt["blockNumber"]),
        )


def deploy_test_contract(
    chain: Chain, deployer: Any, name: str, types: Sequence[str] = (), args: Sequence[Any] = ()
) -> Deployed:
    """Deploy a test-only contract (``contracts/test/<name>.sol``)."""
    from eth_abi import encode

    artifact = test_artifact(name)
    code = bytes.fromhex(artifact["bytecode"][2:])
    if types:
        code += encode(list(types), list(args))
    receipt = chain.send_transaction(deployer, None, code, action=f"deploy {name}")
    return Deployed(chain, str(receipt["contractAddress"]), ContractAbi(name, artifact["abi"]))
