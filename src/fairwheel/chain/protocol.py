"""Typed client of one deployment of the Fairwheel contracts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairwheel.chain._escrow import EscrowCalls
from fairwheel.chain._registry import RegistryCalls
from fairwheel.chain._rewards import RewardCalls, StakingCalls
from fairwheel.chain.artifacts import CONTRACT_NAMES
from fairwheel.chain.binding import OPTIONAL_CONTRACTS
from fairwheel.domain.typed_data import Eip712Domain, consent_domain, voucher_domain
from fairwheel.errors import ConfigError

if TYPE_CHECKING:
    from fairwheel.chain.client import Chain

__all__ = ["Protocol"]

_ALIASES = {
    "token": "FairToken",
    "registry": "PoolRegistry",
    "escrow": "UsageEscrow",
    "distributor": "RewardDistributor",
    "staking": "Staking",
}


class Protocol(RegistryCalls, EscrowCalls, RewardCalls, StakingCalls):
    """The contracts of one deployment, bound to a :class:`~fairwheel.chain.Chain`.

    Every write signs with ``sender`` (a ``LocalAccount``) and returns a
    :class:`~fairwheel.chain.types.TxResult` whose ``value`` is the function's natural result;
    reverts raise :class:`~fairwheel.errors.ChainError` with ``details["reason"]`` set to the
    custom error's name. The calls are grouped by contract in ``_token``, ``_registry``,
    ``_escrow`` and ``_rewards``.
    """

    @classmethod
    def bind(cls, chain: Chain, addresses: dict[str, str]) -> Protocol:
        """Bind to an existing deployment, checking that every address holds code.

        ``Staking`` may be missing (a deployment recorded before it existed): the staking
        calls then raise :class:`~fairwheel.errors.ConfigError`.

        Raises:
            ConfigError: If a contract's address is missing or has no code.
        """
        named = {_ALIASES.get(k, k): v for k, v in addresses.items()}
        missing = [n for n in CONTRACT_NAMES if not named.get(n) and n not in OPTIONAL_CONTRACTS]
        if missing:
            raise ConfigError(f"missing contract addresses: {', '.join(missing)}")
        protocol = cls(chain, named)
        for name, address in protocol.addresses.items():
            if not chain.w3.eth.get_code(address):  # type: ignore[arg-type]
                raise ConfigError(f"no contract code at {address} ({name})", contract=name)
        return protocol

    def consent_domain(self) -> Eip712Domain:
        """The EIP-712 domain of consents and revocations for this deployment."""
        return consent_domain(self.chain.chain_id, self.registry_address)

    def voucher_domain(self) -> Eip712Domain:
        """The EIP-712 domain of vouchers for this deployment."""
        return voucher_domain(self.chain.chain_id, self.escrow_address)
