"""Models of epochs and claims: closes, their verification, claim proofs and earnings."""

from __future__ import annotations

from pydantic import Field

from fairwheel.api.models_base import Amount, Model


class EpochView(Model):
    pool_id: int
    epoch: int
    root: str
    total: Amount
    dust: Amount
    file_hash: str
    tx_hash: str
    closed_at: float
    active_at: int
    cancelled: bool


class EpochReportView(Model):
    pool_id: int
    epoch: int
    root: str
    total: Amount
    paid: Amount
    fees: Amount
    dust: Amount
    redeemed: Amount
    file_hash: str
    tx_hash: str
    entries: int
    debts: dict[str, Amount] = Field(
        default_factory=dict, description="Payer -> what it still owes after this close."
    )
    withheld: Amount = Field(
        default="0", description="Earnings and fees held back until those debts are collected."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Why unredeemed vouchers are at risk, if they are."
    )
    posted: bool = Field(
        default=True, description="False: nothing was collected to credit, no root was posted."
    )


class VerificationView(Model):
    pool_id: int
    epoch: int
    ok: bool
    recomputed_root: str
    chain_root: str
    file_hash: str
    chain_file_hash: str
    problem: str | None


class ClaimProof(Model):
    pool: int
    epoch: int
    account: str
    cumulative: Amount
    proof: list[str]
    claimed: Amount
    claimable: Amount
    active_at: int


class ClaimOut(Model):
    pool_id: int
    account: str
    epoch: int
    paid: Amount


class EpochEarning(Model):
    epoch: int
    cumulative: Amount


class PoolEarnings(Model):
    pool_id: int
    open: Amount = Field(description="Earned since the last closed epoch.")
    cumulative: Amount = Field(description="In the latest closed epoch's root.")
    claimed: Amount
    epochs: list[EpochEarning]


class Use(Model):
    seq: int
    time: int
    pool: int
    kind: str
    amount: Amount
    records: list[int] = Field(
        default_factory=list,
        description="Your records in that answer (the records a paid search served).",
    )


class EarningsView(Model):
    account: str
    total: Amount
    pools: list[PoolEarnings]
    uses: list[Use]
