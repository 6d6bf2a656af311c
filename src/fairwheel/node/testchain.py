"""Tools for a test chain: new accounts, a faucet, deposits from test wallets, and the clock.

The simulator (``fairwheel demo``, ``fairwheel simulate``) and the API's dev mode play the
other parties (contributors, consumers, builders) on a chain where that is safe: the
embedded chain, or a local test chain (anvil's 31337, 1337). On any other chain these
tools refuse, so test keys never move real value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairwheel.errors import ConfigError, Conflict
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.chain.types import TxResult

__all__ = ["TEST_CHAIN_IDS", "TestChainService"]

TEST_CHAIN_IDS = frozenset({31337, 1337})


class TestChainService(Service):
    """Act as the other parties on a test chain."""

    __test__ = False  # not a pytest test class, despite the name

    def is_test_chain(self) -> bool:
        """Whether the chain is the embedded one or a local test chain."""
        return bool(self.chain.is_embedded) or self.chain.chain_id in TEST_CHAIN_IDS

    def require_test_chain(self, purpose: str = "dev mode publishes its keys; it") -> None:
        """Refuse anything but the embedded chain or a local test chain.

        Raises:
            ConfigError: If the node settles on a chain where test keys could hold value.
        """
        if not self.is_test_chain():
            raise ConfigError(
                f"{purpose} runs only on the embedded chain or a local test chain "
                f"(chain id 31337 or 1337), not on chain {self.chain.chain_id}"
            )

    def new_account(self, eth: int = 10**18) -> LocalAccount:
        """A fresh key, funded with ``eth`` wei for gas."""
        self.require_test_chain("creating funded accounts")
        return self.chain.new_account(eth)

    def faucet(self, address: str, tokens: int, eth: int) -> None:
        """Give an address test ETH (for gas) and test tokens (the operator mints them)."""
        self.require_test_chain("the faucet")
        if eth:
            self.chain.fund(address, eth)
        if tokens:
            self.ports.record_gas("mint", self.protocol.mint(address, tokens, sender=self.operator))

    def deposit(self, pool_id: int, amount: int, payer: LocalAccount) -> TxResult:
        """Approve and deposit ``amount`` into the pool's escrow from a test wallet.

        Raises:
            NotFound: If the pool is unknown.
            Conflict: If the wallet holds too few tokens.
        """
        self.require_test_chain("depositing from test wallets")
        self.store.pool(pool_id)
        if self.protocol.token_balance(payer.address) < amount:
            raise Conflict("the test wallet holds too few tokens; use the faucet")
        escrow = self.protocol.addresses["UsageEscrow"]
        self.ports.record_gas("approve", self.protocol.approve(escrow, amount, sender=payer))
        tx = self.protocol.deposit(pool_id, amount, sender=payer)
        self.ports.record_gas("deposit", tx)
        return tx

    def advance_time(self, seconds: int) -> int:
        """Move the chain's clock forward; returns the new time."""
        self.require_test_chain("moving the clock")
        return int(self.chain.advance_time(seconds))

    def activate_epochs(self) -> int:
        """Move the clock past the activation delay, so closed epochs become claimable."""
        return self.advance_time(self.settings.activation_delay + 1)
