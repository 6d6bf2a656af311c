"""Client-side signing: what a contributor's or consumer's wallet does locally.

Private keys never reach the node: a contributor signs consent for each record,
a consumer signs vouchers carrying the cumulative amount they agree to pay.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from fairwheel.domain.records import Submission, content_hash
from fairwheel.domain.typed_data import (
    PURPOSE_SEARCH,
    PURPOSE_TRAINING,
    Consent,
    Eip712Domain,
    Voucher,
    sign_consent,
    sign_voucher,
)


@dataclass
class ContributorWallet:
    """Signs consent for records a contributor submits to a pool."""

    account: Any  # eth_account LocalAccount
    domain: Eip712Domain
    licence: str = "CC-BY-4.0"
    purposes: int = PURPOSE_SEARCH | PURPOSE_TRAINING
    lifetime: int = 365 * 24 * 3600

    @property
    def address(self) -> str:
        return str(self.account.address)

    def submission(
        self, pool_id: int, text: str, label: str | None, *, now: int, nonce: int | None = None
    ) -> Submission:
        """A signed submission of one record (a fresh random nonce unless one is given)."""
        consent = Consent(
            contributor=self.address,
            pool_id=pool_id,
            content_hash=content_hash(text, label),
            licence=self.licence,
            purposes=self.purposes,
            expiry=now + self.lifetime,
            nonce=secrets.randbits(64) if nonce is None else nonce,
        )
        signature = sign_consent(consent, self.domain, self.account.key)
        return Submission(text=text, label=label, consent=consent, signature=signature)


@dataclass
class ConsumerWallet:
    """Tracks a consumer's cumulative spend per pool and signs the next voucher."""

    account: Any  # eth_account LocalAccount
    domain: Eip712Domain
    spent: dict[int, int] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def pay(self, pool_id: int, price: int) -> tuple[Voucher, bytes]:
        """Sign a voucher that raises the cumulative amount for ``pool_id`` by ``price``.

        The spend is recorded only by :meth:`confirm` once the node accepted the call,
        so a refused call does not leave the wallet ahead of the node.
        """
        voucher = Voucher(self.address, pool_id, self.spent.get(pool_id, 0) + price)
        return voucher, sign_voucher(voucher, self.domain, self.account.key)

    def confirm(self, voucher: Voucher) -> None:
        self.spent[voucher.pool_id] = voucher.cumulative_amount
