"""One typed settings object for the whole node.

Values come, in order of precedence, from keyword arguments, environment
variables prefixed ``FAIRWHEEL_`` (``FAIRWHEEL_CHAIN_URL=http://127.0.0.1:8545``),
a TOML file named by ``FAIRWHEEL_CONFIG``, then the embedded defaults below.
Every port's backend is chosen by the scheme of its URL.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fairwheel.errors import ConfigError


def default_home() -> Path:
    """The node's home folder: ``$FAIRWHEEL_HOME`` or ``~/.fairwheel``."""
    return Path(os.environ.get("FAIRWHEEL_HOME", Path.home() / ".fairwheel"))


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/fairwheel`` or ``~/.cache/fairwheel``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fairwheel"


class Settings(BaseSettings):
    """Node settings. Empty URLs are derived from ``home`` (see :meth:`resolved`)."""

    model_config = SettingsConfigDict(env_prefix="FAIRWHEEL_", extra="forbid")

    home: Path = Field(default_factory=default_home)
    chain_url: str = "embedded://"
    database_url: str = ""
    index_url: str = ""
    blobs_url: str = ""
    embedder_url: str = "minilm://onnx"
    # Derived model files (the exported ONNX graph), shared by every node of this user.
    cache_dir: Path = Field(default_factory=default_cache_dir)
    # Seconds between an epoch root being posted and it becoming claimable.
    activation_delay: int = 3600
    # Seconds a consumer waits between requesting and completing an escrow withdrawal. It must
    # exceed epoch_length + redemption_window: a voucher accepted at the start of an epoch is
    # redeemed by then, before any withdrawal requested after it can complete.
    thaw_period: int = 7 * 24 * 3600
    # Longest time between two epoch closes of a pool (the scheduler closes within it).
    epoch_length: int = 24 * 3600
    # Grace after an epoch's end by which its vouchers are redeemed (a slow or retried close).
    redemption_window: int = 24 * 3600
    max_record_bytes: int = 8192
    min_record_chars: int = 3
    # Submissions per contributor and pool per hour; a flagged contributor gets the second.
    rate_limit_per_hour: int = 1000
    flagged_rate_limit_per_hour: int = 10
    # A revocation retrains the serving model without the record at once.
    retrain_on_revoke: bool = True
    # Ratings a rater may give per hour; a rater judged spammy gets the second.
    ratings_per_hour: int = 200
    spammy_ratings_per_hour: int = 5

    @field_validator("chain_url")
    @classmethod
    def _known_chain(cls, value: str) -> str:
        if not value.startswith(("embedded://", "http://", "https://")):
            raise ValueError(f"chain_url must be embedded:// or http(s)://, not {value!r}")
        return value

    @model_validator(mode="after")
    def _thaw_covers_redemption(self) -> Settings:
        if min(self.thaw_period, self.epoch_length, self.redemption_window) < 0:
            raise ValueError("thaw_period, epoch_length and redemption_window must be >= 0")
        if self.thaw_period <= self.epoch_length + self.redemption_window:
            raise ValueError(
                f"thaw_period ({self.thaw_period}s) must exceed epoch_length + "
                f"redemption_window ({self.epoch_length}s + {self.redemption_window}s): "
                "otherwise a consumer can withdraw escrow that backs vouchers not yet redeemed"
            )
        return self

    @property
    def voucher_window(self) -> int:
        """Longest time from accepting a voucher to redeeming it: the escrow contract's
        ``redemptionWindow``."""
        return self.epoch_length + self.redemption_window

    def resolved(self) -> Settings:
        """A copy with every empty URL filled in from ``home``."""
        home = self.home.expanduser().resolve()
        return self.model_copy(
            update={
                "home": home,
                "database_url": self.database_url or f"sqlite:///{home / 'fairwheel.db'}",
                "index_url": self.index_url or f"hnsw://{home / 'index'}",
                "blobs_url": self.blobs_url or f"file://{home / 'blobs'}",
            }
        )


def _file_values() -> dict[str, Any]:
    """The ``[fairwheel]`` table of the TOML file named by ``FAIRWHEEL_CONFIG`` ({} if none)."""
    config_path = os.environ.get("FAIRWHEEL_CONFIG")
    if not config_path:
        return {}
    try:
        with open(config_path, "rb") as fh:
            return dict(tomllib.load(fh).get("fairwheel", {}))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}") from exc


def _env_names() -> set[str]:
    return {name for name in Settings.model_fields if f"FAIRWHEEL_{name.upper()}" in os.environ}


def configured(name: str) -> bool:
    """Whether setting ``name`` is given by the environment or the config file (not a default).

    Raises:
        ConfigError: the TOML file is unreadable.
    """
    return name in _env_names() or name in _file_values()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from overrides, the environment and an optional TOML file.

    Overrides that are ``None`` are ignored, so CLI flags left unset fall through to the
    environment, then the file, then the defaults.

    Raises:
        ConfigError: the TOML file is unreadable or a value is invalid.
    """
    env_names = _env_names()
    merged = {k: v for k, v in _file_values().items() if k not in env_names}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**merged).resolved()
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
