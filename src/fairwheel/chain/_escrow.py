"""UsageEscrow calls of the protocol client: deposits (also by permit), vouchers, withdrawals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fairwheel.chain._token import TokenCalls
from fairwheel.chain.binding import as_signature
from fairwheel.chain.permit import Permit, sign_permit, split_signature
from fairwheel.chain.types import PendingWithdrawal, TxResult
from fairwheel.domain.typed_data import Eip712Domain, Voucher

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

__all__ = ["EscrowCalls"]

#: Default lifetime of a permit signed by :meth:`EscrowCalls.deposit_with_permit`.
PERMIT_LIFETIME = 3600


class EscrowCalls(TokenCalls):
    """``UsageEscrow``: consumers deposit and withdraw; the pool's operator redeems vouchers."""

    def deposit(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Deposit into escrow (approve the escrow first); ``value`` is the amount credited."""
        return self._write(
            "UsageEscrow", "deposit", [pool_id, amount], sender, self._pick("Deposited", "amount")
        )

    def deposit_with_permit(
        self,
        pool_id: int,
        amount: int,
        *,
        sender: LocalAccount,
        deadline: int | None = None,
        signature: bytes | None = None,
    ) -> TxResult:
        """Deposit in one transaction with an EIP-2612 permit instead of an ``approve``.

        Args:
            pool_id: The pool.
            amount: Tokens to deposit (and the permit's value).
            sender: The payer; signs the permit (owner = sender, spender = the escrow) unless
                ``signature`` is given.
            deadline: The permit's deadline (default: chain time + 1 hour).
            signature: A permit signature made elsewhere (65 bytes), with ``deadline``.

        Returns:
            The mined transaction; ``value`` is the amount credited.
        """
        if deadline is None:
            deadline = self.chain.now() + PERMIT_LIFETIME
        if signature is None:
            token = self.pool_token(pool_id)
            permit = Permit(
                owner=sender.address,
                spender=self.escrow_address,
                value=amount,
                nonce=self.permit_nonce(sender.address, token=token),
                deadline=deadline,
            )
            signature = sign_permit(permit, self.token_domain(token), sender)
        v, r, s = split_signature(as_signature(signature))
        return self._write(
            "UsageEscrow",
            "depositWithPermit",
            [pool_id, amount, deadline, v, r, s],
            sender,
            self._pick("Deposited", "amount"),
        )

    def permit_nonce(self, owner: str, *, token: str | None = None) -> int:
        """The token's EIP-2612 ``nonces(owner)``: the nonce of ``owner``'s next permit."""
        return int(self._read("FairToken", "nonces", self._addr(owner), at=token))

    def token_domain(self, token: str | None = None) -> Eip712Domain:
        """The token's EIP-712 domain, read (once per token) from its ERC-5267
        ``eip712Domain()``."""
        address = token or self.token_address
        if address not in self._token_domains:
            _, name, version, chain_id, verifying, _, _ = self._read(
                "FairToken", "eip712Domain", at=address
            )
            domain = Eip712Domain(str(name), str(version), int(chain_id), str(verifying))
            self._token_domains[address] = domain
        domain_: Eip712Domain = self._token_domains[address]
        return domain_

    def approve_and_deposit(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Approve the escrow for the pool's token, then :meth:`deposit`."""
        token = self.pool_token(pool_id)
        self.approve(self.escrow_address, amount, sender=sender, token=token)
        return self.deposit(pool_id, amount, sender=sender)

    def escrow_balance(self, pool_id: int, payer: str) -> int:
        """The payer's escrowed balance in the pool."""
        return int(self._read("UsageEscrow", "balanceOf", pool_id, self._addr(payer)))

    def redeemed(self, pool_id: int, payer: str) -> int:
        """Total already redeemed from the payer in the pool."""
        return int(self._read("UsageEscrow", "redeemed", pool_id, self._addr(payer)))

    def redeem(self, voucher: Voucher, signature: bytes, *, sender: LocalAccount) -> TxResult:
        """Redeem a voucher (pool operator only); ``value`` is the amount paid."""
        args = [voucher.payer, voucher.pool_id, voucher.cumulative_amount, as_signature(signature)]
        return self._write("UsageEscrow", "redeem", args, sender, self._pick("Redeemed", "paid"))

    def redeem_many(
        self, items: Sequence[tuple[Voucher, bytes]], *, sender: LocalAccount
    ) -> TxResult:
        """Redeem several vouchers of one pool atomically; ``value`` is the total paid.

        Raises:
            ValueError: If ``items`` is empty or mixes pools.
        """
        if not items:
            raise ValueError("no vouchers to redeem")
        pools = {v.pool_id for v, _ in items}
        if len(pools) != 1:
            raise ValueError("redeem_many takes vouchers of one pool; group them per pool")
        args = [
            pools.pop(),
            [v.payer for v, _ in items],
            [v.cumulative_amount for v, _ in items],
            [as_signature(s) for _, s in items],
        ]
        return self._write("UsageEscrow", "redeemMany", args, sender, self._sum("Redeemed", "paid"))

    def request_withdraw(self, pool_id: int, amount: int, *, sender: LocalAccount) -> TxResult:
        """Start the thaw of a withdrawal; ``value`` is the ``readyAt`` timestamp."""
        return self._write(
            "UsageEscrow",
            "requestWithdraw",
            [pool_id, amount],
            sender,
            self._pick("WithdrawRequested", "readyAt"),
        )

    def withdraw(self, pool_id: int, *, sender: LocalAccount) -> TxResult:
        """Withdraw a thawed request; ``value`` is the amount paid."""
        return self._write(
            "UsageEscrow", "withdraw", [pool_id], sender, self._pick("Withdrawn", "amount")
        )

    def pending_withdrawal(self, pool_id: int, payer: str) -> PendingWithdrawal:
        """The payer's requested withdrawal (zeros if none)."""
        amount, ready_at = self._read(
            "UsageEscrow", "pendingWithdrawal", pool_id, self._addr(payer)
        )
        return PendingWithdrawal(amount=int(amount), ready_at=int(ready_at))

    def onchain_voucher_digest(self, voucher: Voucher) -> bytes:
        """``UsageEscrow.voucherDigest`` (the digest as the contract computes it)."""
        return bytes(
            self._read(
                "UsageEscrow",
                "voucherDigest",
                voucher.payer,
                voucher.pool_id,
                voucher.cumulative_amount,
            )
        )

    def thaw_period(self) -> int:
        """Seconds a withdrawal request thaws (``UsageEscrow.thawPeriod``)."""
        return int(self._read("UsageEscrow", "thawPeriod"))

    def redemption_window(self) -> int:
        """Longest delay the operator allows between accepting and redeeming a voucher."""
        return int(self._read("UsageEscrow", "redemptionWindow"))
