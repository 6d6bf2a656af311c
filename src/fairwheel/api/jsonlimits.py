"""Bounded JSON: no body, header or uploaded line may nest deeper than :data:`MAX_JSON_DEPTH`.

Python's parser recurses once per level of nesting, so ``[[[[…]]]]`` a few hundred thousand
levels deep exhausts the stack of the thread that parses it: at best a 500, at worst the whole
server process dies. Every JSON the API reads from a client is measured first, in C-speed passes
(strings are removed with one regular expression, then only the brackets are walked), and
refused with 422 ``schema_error`` when too deep. No request body of this API needs more than a
handful of levels (EIP-712 typed data is the deepest, at five).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fairwheel.errors import SchemaError

__all__ = ["MAX_JSON_DEPTH", "check_depth", "json_depth", "loads_bounded"]

MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(data: bytes, *, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``data`` (0 for a scalar).

    ``data`` need not be valid JSON: brackets inside strings do not count, and a stray closing
    bracket does not make the depth negative.

    Args:
        data: The JSON text.
        stop_above: Stop walking once the depth passes this (the answer is then that depth).
    """
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
            if stop_above is not None and deepest > stop_above:
                break
        elif depth:
            depth -= 1
    return deepest


def check_depth(data: bytes, what: str) -> None:
    """Raise unless ``data`` nests at most :data:`MAX_JSON_DEPTH` levels.

    Raises:
        SchemaError: Naming ``what`` (``body``, ``line 3``, a header) and the limit.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return  # the count of opening brackets bounds the depth: no need to walk
    depth = json_depth(data, stop_above=MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise SchemaError(
            f"{what}: JSON nested more than {MAX_JSON_DEPTH} levels deep",
            limit=MAX_JSON_DEPTH,
        )


def loads_bounded(text: str | bytes, what: str) -> Any:
    """``json.loads`` after :func:`check_depth`.

    Raises:
        SchemaError: Too deep.
        ValueError: Not JSON (as ``json.loads`` raises it).
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    check_depth(raw, what)
    return json.loads(text)
