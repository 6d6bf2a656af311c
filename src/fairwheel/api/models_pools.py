"""Models of pools: what creating one takes, and what a pool and its statistics look like."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fairwheel.api.models_base import Amount, Model


class PoolCreate(Model):
    name: str = Field(min_length=1, max_length=100)
    search_price: Amount
    predict_price: Amount
    operator_fee_bps: int = Field(ge=0, le=10_000)
    builder_share_bps: int = Field(ge=0, le=10_000)
    labels: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=1000
    )
    licence: str = Field("CC-BY-4.0", min_length=1, max_length=100)


class PoolView(Model):
    id: int
    name: str
    operator: str
    guardian: str
    search_price: Amount
    predict_price: Amount
    operator_fee_bps: int
    builder_share_bps: int
    labels: list[str]
    licence: str
    tx_hash: str
    created_at: float


class PoolStats(Model):
    pool_id: int
    records: dict[str, int]
    rejected_by_reason: dict[str, int]
    index_size: int
    calls: int
    revenue: Amount
    epochs: int
    models: int
