"""Deploying the protocol, and the rules its delays must follow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fairwheel.errors import ConfigError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fairwheel.chain.client import Chain
    from fairwheel.chain.protocol import Protocol

__all__ = ["deploy_protocol", "protocol_delays"]


def protocol_delays(
    activation_delay: int,
    thaw_period: int,
    redemption_window: int | None = None,
    unstake_delay: int | None = None,
) -> tuple[int, int]:
    """The redemption window and unstake delay a deployment gets, checked against the rules.

    Defaults: ``redemption_window = thaw_period // 2`` and
    ``unstake_delay = max(thaw_period, 2 * activation_delay, 1)``.

    Returns:
        ``(redemption_window, unstake_delay)``.

    Raises:
        ConfigError: Unless ``redemption_window < thaw_period`` (a withdrawal can never
            front-run a redemption inside the window) and ``unstake_delay > activation_delay``
            (a staker cannot leave before the epoch that shows their misbehaviour is reviewed).
    """
    window = thaw_period // 2 if redemption_window is None else redemption_window
    delay = max(thaw_period, 2 * activation_delay, 1) if unstake_delay is None else unstake_delay
    if min(activation_delay, thaw_period, window, delay) < 0:
        raise ConfigError("protocol delays must be >= 0")
    if window >= thaw_period:
        raise ConfigError(
            f"thaw_period ({thaw_period}s) must be longer than the redemption window ({window}s)",
            thaw_period=thaw_period,
            redemption_window=window,
        )
    if delay <= activation_delay:
        raise ConfigError(
            f"unstake_delay ({delay}s) must be longer than activation_delay ({activation_delay}s)",
            unstake_delay=delay,
            activation_delay=activation_delay,
        )
    return window, delay


def deploy_protocol(chain: Chain, deployer: LocalAccount) -> Protocol:
    """Deploy FairToken, PoolRegistry, UsageEscrow, RewardDistributor and Staking, in order.

    The escrow gets the chain's ``thaw_period`` and ``redemption_window``, the distributor its
    ``activation_delay`` and Staking its ``unstake_delay``; ``deployer`` owns the token.

    Returns:
        The bound :class:`~fairwheel.chain.protocol.Protocol`.

    Raises:
        ChainError: If a deployment transaction fails.
    """
    from eth_abi import encode

    from fairwheel.chain.artifacts import bytecode_of

    def create(name: str, types: list[str], args: list[Any]) -> str:
        code = bytecode_of(name) + (encode(types, args) if types else b"")
        receipt = chain.send_transaction(deployer, None, code, action=f"deploy {name}")
        return chain._checksum(receipt["contractAddress"])

    token = create("FairToken", [], [])
    registry = create("PoolRegistry", [], [])
    escrow = create(
        "UsageEscrow",
        ["address", "uint64", "uint64"],
        [registry, chain.thaw_period, chain.redemption_window],
    )
    distributor = create(
        "RewardDistributor", ["address", "uint64"], [registry, chain.activation_delay]
    )
    staking = create(
        "Staking",
        ["address", "address", "uint64"],
        [registry, distributor, chain.unstake_delay],
    )
    return chain.attach(
        {
            "FairToken": token,
            "PoolRegistry": registry,
            "UsageEscrow": escrow,
            "RewardDistributor": distributor,
            "Staking": staking,
        }
    )
