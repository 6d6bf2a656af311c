"""ERC-20 calls shared by the protocol client (FairToken by default, any pool token by address)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairwheel.chain.binding import Binding
from fairwheel.chain.types import TxResult

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

__all__ = ["TokenCalls"]


class TokenCalls(Binding):
    """Mint, approve and read ERC-20 balances; ``token=None`` means the FairToken."""

    def mint(self, to: str, amount: int, *, sender: LocalAccount) -> TxResult:
        """Mint FairToken (``sender`` must be the token's owner, the deployer)."""
        return self._write("FairToken", "mint", [self._addr(to), amount], sender)

    def approve(
        self, spender: str, amount: int, *, sender: LocalAccount, token: str | None = None
    ) -> TxResult:
        """Approve ``spender`` to pull ``amount`` of ``token`` (default FairToken)."""
        return self._write("FairToken", "approve", [self._addr(spender), amount], sender, at=token)

    def token_balance(self, address: str, *, token: str | None = None) -> int:
        """ERC-20 balance of ``address`` in ``token`` (default FairToken)."""
        return int(self._read("FairToken", "balanceOf", self._addr(address), at=token))

    def allowance(self, owner: str, spender: str, *, token: str | None = None) -> int:
        """ERC-20 allowance from ``owner`` to ``spender``."""
        return int(
            self._read("FairToken", "allowance", self._addr(owner), self._addr(spender), at=token)
        )

    def total_supply(self, *, token: str | None = None) -> int:
        """ERC-20 total supply of ``token`` (default FairToken)."""
        return int(self._read("FairToken", "totalSupply", at=token))

    def pool_token(self, pool_id: int) -> str:
        """The ERC-20 a pool is paid in; ``ChainError(reason="PoolNotFound")`` for unknown ids.

        A pool's token never changes, so the answer is cached.
        """
        if pool_id not in self._pool_tokens:
            _, _, token = self._read("PoolRegistry", "roles", pool_id)
            self._pool_tokens[pool_id] = str(token)
        return self._pool_tokens[pool_id]
