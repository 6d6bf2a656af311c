"""Models of the node and its chain: health, chain facts, accounts, relayed transactions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fairwheel.api.models_base import Amount, Model


class ComponentCheck(Model):
    ok: bool
    detail: str = Field(description="What the check saw, or why it failed.")


class Health(Model):
    status: Literal["ok", "unavailable"] = Field(
        description="ok, or unavailable (HTTP 503) when the chain, database or index fails."
    )
    version: str
    chain_id: int
    block: int | None
    pools: int | None
    embedded_chain: bool
    dev: bool
    checks: dict[str, ComponentCheck] = Field(
        default_factory=dict, description="chain, database and index, each checked by a real call."
    )


class ChainInfo(Model):
    chain_id: int
    embedded: bool
    now: int = Field(description="Timestamp of the latest block.")
    contracts: dict[str, str]
    consent_domain: dict[str, Any]
    voucher_domain: dict[str, Any]
    operator: str
    activation_delay: int
    thaw_period: int


class AccountView(Model):
    address: str
    nonce: int
    eth_balance: Amount
    token_balance: Amount
    chain_id: int
    max_fee_per_gas: Amount
    max_priority_fee_per_gas: Amount


class RawTransaction(Model):
    raw: str = Field(
        pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=262_144, description="A signed typed tx."
    )


class TxView(Model):
    tx_hash: str
    status: int
    gas_used: int
    block_number: int
