"""The building blocks of the HTTP API's models: amounts, addresses, hashes, ids, the strict base.

Amounts of tokens are decimal strings of base units (they overflow JavaScript numbers and
64-bit integers); addresses are ``0x`` hex; hashes and roots are ``0x`` + 64 hex digits.
Every model of :mod:`fairwheel.api.models` (which re-exports this module's names) builds on
these.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

U256 = 2**256 - 1
U64 = 2**64 - 1
MAX_ID = 2**62  # SQLite integers and path ids stay well inside 64 bits


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _uint256(value: str) -> str:
    if int(value) > U256:
        raise ValueError("must fit in a uint256")
    return value


Amount = Annotated[
    str,
    BeforeValidator(_int_to_str),
    AfterValidator(_uint256),
    Field(pattern=r"^[0-9]{1,78}$", description="Token base units as a decimal string."),
]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "ab" * 20])]
Hash32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature = Annotated[
    str, Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65 bytes r‖s‖v, 0x hex.")
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _only_digits(value: object) -> object:
    """Path ids are written in ASCII digits only: ``1.0``, ``+1``, ``1e0`` or ``１`` are not 1."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits (0-9)")
    return value


# An integer in a URL path: digits only, nothing pydantic would coerce.
PathInt = Annotated[int, BeforeValidator(_only_digits)]


class Model(BaseModel):
    """Base: unknown fields are refused, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Model):
    """Every error: a stable machine-readable code, a human message and details."""

    code: str = Field(examples=["replay"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class TypedData(Model):
    """An ``eth_signTypedData_v4`` payload: what a wallet signs."""

    types: dict[str, list[dict[str, str]]]
    primaryType: str
    domain: dict[str, Any]
    message: dict[str, Any]
