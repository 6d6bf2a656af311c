"""Consumers' ratings of paid answers: the one record type and its checks.

A rating is tied to the paid call it rates (``call_seq``, the call's ledger
sequence number), so only a paying consumer's answers are rated and each rating
points to the records that produced the answer. Three kinds:

* ``"thumbs"``: value ``-1`` (bad answer) or ``+1`` (good answer);
* ``"stars"``: value ``1`` .. ``5``;
* ``"arena"``: two answers to one query (current model and candidate, shown in
  random order) and value ``0`` (answer A is better) or ``1`` (answer B is
  better). An arena rating compares models, not answers, so it has no
  goodness.

Pure: the standard library and :mod:`fairwheel.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairwheel.errors import SchemaError

THUMBS = "thumbs"
STARS = "stars"
ARENA = "arena"
KINDS = (THUMBS, STARS, ARENA)

_VALUES: dict[str, tuple[int, ...]] = {
    THUMBS: (-1, 1),
    STARS: (1, 2, 3, 4, 5),
    ARENA: (0, 1),
}
_ADDRESS = re.compile(r"0x[0-9a-f]{40}")


def _int(value: Any, name: str, lo: int = 0) -> int:
    # bool is an int subclass; a True sequence number is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise SchemaError(f"{name} must be an int >= {lo}", **{name: repr(value)})
    return value


def validate_rating(kind: str, value: int) -> None:
    """Check that ``value`` is allowed for a rating of ``kind``.

    Args:
        kind: ``"thumbs"``, ``"stars"`` or ``"arena"``.
        value: ``-1``/``+1`` for thumbs, ``1``..``5`` for stars, ``0``/``1``
            for arena (0: answer A is better, 1: answer B is better).

    Raises:
        SchemaError: If the kind is unknown or the value is not an int allowed
            for that kind.
    """
    if not isinstance(kind, str) or kind not in _VALUES:
        raise SchemaError(f"rating kind must be one of {', '.join(KINDS)}", kind=repr(kind))
    allowed = _VALUES[kind]
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise SchemaError(
            f"a {kind} rating must have a value in {{{', '.join(map(str, allowed))}}}",
            kind=kind,
            value=repr(value),
        )


@dataclass(frozen=True)
class Rating:
    """One consumer's rating of one paid call.

    Attributes:
        call_seq: The sequence number of the paid call rated (``>= 0``).
        rater: The rater's address, lower-case ``0x`` + 40 hex digits.
        kind: ``"thumbs"``, ``"stars"`` or ``"arena"``.
        value: See :func:`validate_rating`.
        time: When the rating was given (Unix seconds, ``>= 0``).
    """

    call_seq: int
    rater: str
    kind: str
    value: int
    time: int

    def __post_init__(self) -> None:
        """Validate every field.

        Raises:
            SchemaError: On a negative or non-int ``call_seq`` or ``time``, a
                rater that is not a lower-case address, or a bad kind or value.
        """
        _int(self.call_seq, "call_seq")
        _int(self.time, "time")
        if not isinstance(self.rater, str) or not _ADDRESS.fullmatch(self.rater):
            raise SchemaError(
                "rater must be a lower-case 0x address (40 hex digits)", rater=repr(self.rater)
            )
        validate_rating(self.kind, self.value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "call_seq": self.call_seq,
            "rater": self.rater,
            "kind": self.kind,
            "value": self.value,
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rating:
        """Inverse of :meth:`to_dict` (validates).

        Raises:
            SchemaError: If a field is missing or invalid.
        """
        try:
            return cls(
                call_seq=data["call_seq"],
                rater=data["rater"],
                kind=data["kind"],
                value=data["value"],
                time=data["time"],
            )
        except KeyError as exc:
            raise SchemaError("rating field missing", field=str(exc.args[0])) from None


def goodness(rating: Rating) -> float:
    """How good the rated answer is, in [0, 1].

    Thumbs ``-1`` is 0 and ``+1`` is 1; stars map linearly, ``(value - 1) / 4``
    (1 star: 0, 3 stars: 0.5, 5 stars: 1).

    Raises:
        SchemaError: For an arena rating (it compares two answers; neither has
            a goodness of its own).
    """
    if rating.kind == THUMBS:
        return 1.0 if rating.value == 1 else 0.0
    if rating.kind == STARS:
        return (rating.value - 1) / 4
    raise SchemaError("an arena rating has no goodness: it compares two answers", kind=rating.kind)


def to_bit(rating: Rating) -> int | None:
    """The rating as one binary vote, for agreement between raters.

    * thumbs: ``+1`` → 1, ``-1`` → 0;
    * stars: 4 or 5 → 1, 1 or 2 → 0, 3 → ``None`` (neither: skipped);
    * arena: the value itself (1: answer B is better). This bit says *which*
      answer is better, not whether an answer is good, so arena bits must not be
      mixed with goodness bits on the same item.

    Returns:
        0, 1, or ``None`` for a 3-star rating.
    """
    if rating.kind == THUMBS:
        return 1 if rating.value == 1 else 0
    if rating.kind == STARS:
        if rating.value >= 4:
            return 1
        if rating.value <= 2:
            return 0
        return None
    return rating.value
