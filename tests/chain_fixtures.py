"""Fixtures for the chain tests: one embedded chain and deployment per test module.

Import them explicitly in a test module::

    from tests.chain_fixtures import chain, deployer, protocol, world  # noqa: F401

Tests stay independent without snapshots: each one makes its own pool and fresh accounts.
Set ``FAIRWHEEL_TEST_CHAIN_URL=http://127.0.0.1:8545`` to run them against a node (anvil).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fairwheel.chain import Chain, Protocol, connect_chain

ACTIVATION_DELAY = 3600
THAW_PERIOD = 7 * 24 * 3600
TOKEN = 10**18


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    """An embedded chain with a 1 h activation delay and a 7 d thaw."""
    yield connect_chain("embedded://", activation_delay=ACTIVATION_DELAY, thaw_period=THAW_PERIOD)


@pytest.fixture(scope="module")
def deployer(chain: Chain) -> Any:
    """The account that deploys the contracts and owns (mints) the FairToken."""
    return chain.new_account(10**20)


@pytest.fixture(scope="module")
def protocol(chain: Chain, deployer: Any) -> Protocol:
    """A fresh deployment of the four contracts."""
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
