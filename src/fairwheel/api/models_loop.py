"""Models of a pool's models and the loop: model versions, upkeep, revocation steps, arena
gold, the feedback budget and rater pay."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fairwheel.api.models_base import Address, Amount, Model
from fairwheel.api.models_paid import Share

# ------------------------------------------------------------------- models


class ModelView(Model):
    pool_id: int
    version: int
    model_hash: str
    dataset_root: str
    metrics_hash: str
    registered_at: int
    uri: str
    builder: str | None = None
    metrics: dict[str, Any] | None = None
    tx_hash: str | None = None


class TrainIn(Model):
    builder: Address | None = Field(None, description="Default: the operator.")


# -------------------------------------------------------------- the loop


class VersionView(Model):
    id: int
    version: int
    trigger: str = Field(description="manual | new_data | feedback | revocation")
    serving: bool
    promoted_before: bool
    accuracy: float | None = Field(description="Held-out accuracy (the pool's fixed split).")
    dataset_root: str
    model_hash: str
    tx_hash: str
    report: dict[str, Any] = Field(description="Promotion report: decision, reason, accuracies.")
    arena_wins: int = Field(description="Arena wins against the serving version.")
    arena_games: int
    revoked_records: list[int] = Field(description="Records revoked since it was trained.")
    created_at: float


class UpkeepView(Model):
    trigger: str | None
    model_id: int | None
    promoted: bool | None


class RevocationStep(Model):
    step: str
    time: float
    detail: str


class RevocationStatus(Model):
    record_id: int
    tx_hash: str
    steps: list[RevocationStep]


class GoldIn(Model):
    good: bool = Field(description="Arena: true means the second answer is the better one.")


class BudgetIn(Model):
    per_epoch: Amount


class BudgetView(Model):
    pool_id: int
    per_epoch: Amount
    dust: Amount


class RaterPayView(Model):
    paid: list[Share]
    dust: Amount
    spammy: list[str]
    ratings: int
