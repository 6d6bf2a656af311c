"""Token amounts in the API are decimal strings, everywhere (#16 item 6): a JSON number loses
precision past 2^53 in every JavaScript client, so no schema may declare one as an integer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fairwheel.api.app import create_app
from fairwheel.node import Node

MONEY = re.compile(
    r"(price|amount|balance|budget|stake|paid|spent|available|earn|total|dust|redeemed|owed|"
    r"withheld|collected|cumulative|funded|claimed|fee$|fees$|reward|bounty)",
    re.IGNORECASE,
)
NOT_MONEY = {"operator_fee_bps", "builder_share_bps", "labeler_share_bps", "total_records"}


def _properties(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}.{name}", name, prop


def _types(prop: dict[str, Any]) -> set[str]:
    options = prop.get("anyOf", []) or prop.get("oneOf", []) or [prop]
    out = {str(o.get("type")) for o in options if "type" in o}
    for o in options:
        if o.get("type") == "array" and "items" in o:
            out |= {f"array of {t}" for t in _types(o["items"])}
        if o.get("type") == "object" and isinstance(o.get("additionalProperties"), dict):
            out |= {f"map of {t}" for t in _types(o["additionalProperties"])}
    return out


def test_no_token_amount_in_the_openapi_schema_is_a_number(
    node_factory: Callable[..., Node],
) -> None:
    spec = create_app(node_factory()).openapi()
    checked, numeric = 0, []
    for model, schema in spec["components"]["schemas"].items():
        for where, name, prop in _properties(schema, model):
            if name in NOT_MONEY or not MONEY.search(name):
                continue
            checked += 1
            kinds = _types(prop)
            if kinds & {"integer", "number", "array of integer", "map of integer"}:
                numeric.append((where, sorted(kinds)))
    assert checked > 20  # the pattern does find the money fields
    assert numeric == []
