"""Models of paid calls: searches and predictions, quotes, the usage ledger, feedback, escrow."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fairwheel.api.models_base import Amount, Model, TypedData


class SearchIn(Model):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(5, ge=1, le=100)


class PredictIn(Model):
    text: str = Field(min_length=1, max_length=8192)
    arena: bool = Field(False, description="Also answer with a second model version, to compare.")


class HitView(Model):
    record_id: int
    score: float
    text: str
    label: str | None
    contributor: str


class Share(Model):
    account: str
    amount: Amount


class PaidCallView(Model):
    seq: int
    kind: str
    pool_id: int
    consumer: str
    price: Amount
    voucher_amount: Amount
    operator_fee: Amount
    builder_amount: Amount
    attribution: list[Share]
    hits: list[HitView] = Field(default_factory=list)
    prediction: str | None = None
    confidence: float | None = None
    model_hash: str | None = None
    model_version: int | None = None
    notice: str | None = Field(None, description="Set while the model used revoked records.")
    arena: list[dict[str, Any]] | None = Field(None, description="Two answers, random order.")


class Quote(Model):
    pool_id: int
    kind: str
    price: Amount
    payer: str
    spent: Amount
    next_cumulative: Amount
    typed_data: TypedData


class CallView(Model):
    """A usage-ledger entry (the same fields as in the published epoch file)."""

    seq: int
    time: int
    pool: int
    consumer: str
    kind: str
    price: Amount
    voucher_amount: Amount
    query_hash: str
    operator_fee: Amount
    builder: str | None
    builder_amount: Amount
    attribution: list[Share]
    dust_in: Amount
    dust_out: Amount
    prev_hash: str
    hash: str


class FeedbackIn(Model):
    kind: Literal["thumbs", "stars", "arena"] = Field(
        "stars", description="thumbs (-1/+1), stars (1–5), or arena (0: first answer, 1: second)."
    )
    value: int | None = Field(None, ge=-1, le=5, description="The rating of that kind.")
    rating: int | None = Field(None, ge=1, le=5, description="Shorthand for kind=stars.")
    receipt: str | None = Field(
        None, max_length=4096, description="The answer's X-Fairwheel-Receipt header, checked."
    )


class FeedbackView(Model):
    seq: int
    rater: str
    kind: str
    value: int
    rating: int = Field(description="The value again (stars: 1–5).")
    new: bool = Field(description="False when this exact rating was already recorded.")
    records_reweighted: int = 0


class EscrowView(Model):
    pool_id: int
    payer: str
    balance: Amount
    redeemed: Amount
    spent: Amount = Field(description="Cumulative amount of the latest accepted voucher.")
    unredeemed: Amount
    available: Amount = Field(description="What further vouchers may still spend.")
    pending_withdrawal: Amount
    withdraw_ready_at: int
