"""RewardDistributor and Staking calls of the protocol client: epoch roots, claims, stakes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fairwheel.chain._token import TokenCalls
from fairwheel.chain.binding import as_bytes32, as_proof
from fairwheel.chain.types import RootInfo, StakeInfo, StakeRole, TxResult

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

__all__ = ["RewardCalls", "StakingCalls"]


class RewardCalls(TokenCalls):
    """``RewardDistributor``: the operator posts roots, the guardian cancels, anyone claims."""

    def post_root(
        self,
        pool_id: int,
        epoch: int,
        root: bytes,
        total_cumulative: int,
        epoch_file_hash: bytes,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Post an epoch root (operator only; approve the top-up first).

        ``value`` is the amount pulled from the operator (``totalCumulative - funded``, or 0).
        """
        args = [
            pool_id,
            epoch,
            as_bytes32(root, "root"),
            total_cumulative,
            as_bytes32(epoch_file_hash, "epoch_file_hash"),
        ]
        return self._write(
            "RewardDistributor", "postRoot", args, sender, self._pick("RootPosted", "fundedAmount")
        )

    def approve_and_post_root(
        self,
        pool_id: int,
        epoch: int,
        root: bytes,
        total_cumulative: int,
        epoch_file_hash: bytes,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Approve exactly the top-up the distributor will pull, then :meth:`post_root`."""
        top_up = max(total_cumulative - self.funded(pool_id), 0)
        if top_up:
            token = self.pool_token(pool_id)
            self.approve(self.distributor_address, top_up, sender=sender, token=token)
        return self.post_root(
            pool_id, epoch, root, total_cumulative, epoch_file_hash, sender=sender
        )

    def cancel_root(self, pool_id: int, epoch: int, *, sender: LocalAccount) -> TxResult:
        """Cancel an epoch root before it activates (guardian only)."""
        return self._write("RewardDistributor", "cancelRoot", [pool_id, epoch], sender)

    def claim(
        self,
        pool_id: int,
        epoch: int,
        account: str,
        cumulative_amount: int,
        proof: Sequence[bytes | str],
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Claim for ``account`` (anyone may send); ``value`` is the amount paid to it."""
        args = [pool_id, epoch, self._addr(account), cumulative_amount, as_proof(proof)]
        return self._write(
            "RewardDistributor", "claim", args, sender, self._pick("Claimed", "paid")
        )

    def claimed(self, pool_id: int, account: str) -> int:
        """Total claimed by ``account`` in the pool."""
        return int(self._read("RewardDistributor", "claimed", pool_id, self._addr(account)))

    def funded(self, pool_id: int) -> int:
        """Total funded to the pool by its operator."""
        return int(self._read("RewardDistributor", "funded", pool_id))

    def total_claimed(self, pool_id: int) -> int:
        """Total claimed from the pool by all accounts."""
        return int(self._read("RewardDistributor", "totalClaimed", pool_id))

    def epoch_root(self, pool_id: int, epoch: int) -> RootInfo:
        """The root posted for an epoch (``exists`` is False if none)."""
        r = self._read("RewardDistributor", "epochRoot", pool_id, epoch)
        return RootInfo(
            pool_id=pool_id,
            epoch=epoch,
            root=r["root"],
            total_cumulative=r["totalCumulative"],
            active_at=r["activeAt"],
            cancelled=r["cancelled"],
            epoch_file_hash=r["epochFileHash"],
        )

    def last_epoch(self, pool_id: int) -> int:
        """The last epoch posted for the pool (0 if none)."""
        return int(self._read("RewardDistributor", "lastEpoch", pool_id))

    def fund(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Add to a pool's funding (anyone; approve the distributor first).

        ``value`` is the amount credited to ``funded(pool_id)``.
        """
        return self._write(
            "RewardDistributor", "fund", [pool_id, amount], sender, self._pick("Funded", "amount")
        )

    def activation_delay(self) -> int:
        """Seconds between posting a root and the first claim (the guardian's veto window)."""
        return int(self._read("RewardDistributor", "activationDelay"))


class StakingCalls(TokenCalls):
    """``Staking``: labelers, raters and operators stake; the guardian slashes."""

    def stake(
        self, pool_id: int, role: StakeRole | int, amount: int, *, sender: LocalAccount
    ) -> TxResult:
        """Stake ``amount`` of the pool's token (approve Staking first).

        ``value`` is the sender's active stake in the pool and role afterwards.
        """
        return self._write(
            "Staking", "stake", [pool_id, int(role), amount], sender, self._pick("Staked", "staked")
        )

    def approve_and_stake(
        self, pool_id: int, role: StakeRole | int, amount: int, *, sender: LocalAccount
    ) -> TxResult:
        """Approve Staking for the pool's token, then :meth:`stake`."""
        token = self.pool_token(pool_id)
        self.approve(self.staking_address, amount, sender=sender, token=token)
        return self.stake(pool_id, role, amount, sender=sender)

    def request_unstake(
        self, pool_id: int, role: StakeRole | int, amount: int, *, sender: LocalAccount
    ) -> TxResult:
        """Start unbonding ``amount``; ``value`` is when it can be withdrawn (``readyAt``)."""
        return self._write(
            "Staking",
            "requestUnstake",
            [pool_id, int(role), amount],
            sender,
            self._pick("UnstakeRequested", "readyAt"),
        )

    def unstake(self, pool_id: int, role: StakeRole | int, *, sender: LocalAccount) -> TxResult:
        """Withdraw the unbonding stake after its delay; ``value`` is the amount paid."""
        return self._write(
            "Staking", "unstake", [pool_id, int(role)], sender, self._pick("Unstaked", "amount")
        )

    def slash(
        self,
        pool_id: int,
        account: str,
        role: StakeRole | int,
        amount: int,
        evidence_hash: bytes,
        *,
        sender: LocalAccount,
    ) -> TxResult:
        """Slash a stake (the pool's guardian only); the tokens fund the pool's rewards.

        ``value`` is the amount slashed.
        """
        args = [
            pool_id,
            self._addr(account),
            int(role),
            amount,
            as_bytes32(evidence_hash, "evidence_hash"),
        ]
        return self._write("Staking", "slash", args, sender, self._pick("Slashed", "amount"))

    def stake_of(self, pool_id: int, account: str, role: StakeRole | int) -> StakeInfo:
        """An account's stake in a pool and role."""
        staked, unbonding, ready_at = self._read(
            "Staking", "stakeOf", pool_id, self._addr(account), int(role)
        )
        return StakeInfo(staked=int(staked), unbonding=int(unbonding), ready_at=int(ready_at))

    def total_staked(self, pool_id: int) -> int:
        """Everything staked in the pool (active and unbonding)."""
        return int(self._read("Staking", "totalStaked", pool_id))

    def unstake_delay(self) -> int:
        """Seconds between an unstake request and its withdrawal (the slashing window)."""
        return int(self._read("Staking", "unstakeDelay"))
