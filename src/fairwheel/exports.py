"""Writers for a pool's exports: preference pairs (JSONL) and training rows (Parquet).

Pure functions: the node gathers and filters the rows (by consent, with
:func:`consent_allows_training` and :func:`consent_allows_preferences`), these only write them.
Every writer is atomic: it writes a temporary file next to the target, flushes and fsyncs it,
then renames it over the target with :func:`os.replace`, so a reader sees either the old file
or the complete new one, and a failed write leaves no partial file behind.

Formats:

* ``preferences.jsonl``: one JSON object per line (UTF-8, not ASCII-escaped) whose keys are
  ``prompt``, ``chosen``, ``rejected`` in that order, then ``provenance``: an object with the
  remaining :class:`PreferencePair` fields under sorted keys. This is the layout DPO/RLHF
  trainers read directly; the provenance rides along.
* ``training.parquet``: the columns of :class:`TrainingRow` with the explicit schema
  :data:`TRAINING_SCHEMA_FIELDS`, plus file-level key-value metadata given by the caller (pool
  id, dataset root, export time, …).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from fairwheel.domain.typed_data import PURPOSE_TRAINING

__all__ = [
    "TRAINING_LICENCES",
    "TRAINING_SCHEMA_FIELDS",
    "PreferencePair",
    "TrainingRow",
    "consent_allows_preferences",
    "consent_allows_training",
    "read_training_metadata",
    "read_training_parquet",
    "write_preferences_jsonl",
    "write_training_parquet",
]

TRAINING_LICENCES: frozenset[str] = frozenset(
    {
        "CC0-1.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "Apache-2.0",
        "MIT",
        "ODC-By-1.0",
        "PDDL-1.0",
        "CDLA-Permissive-2.0",
    }
)
"""SPDX ids of licences that permit both training on the content and redistributing it.

Attribution and share-alike duties travel with each exported row (its ``licence`` and
``contributor`` columns). Not included, on purpose: any non-commercial (``CC-BY-NC*``) or
no-derivatives (``*-ND-*``) licence, ``proprietary``, and anything not listed.
"""

_LICENCE_KEYS = {name.casefold(): name for name in TRAINING_LICENCES}

TRAINING_SCHEMA_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("record_id", "int64", False),
    ("text", "string", False),
    ("label", "string", True),
    ("contributor", "string", False),
    ("record_hash", "string", False),
    ("licence", "string", False),
    ("purposes", "int64", False),
    ("consent_expiry", "int64", False),
    ("batch_id", "int64", True),
    ("batch_root", "string", True),
    ("score", "float64", False),
    ("pool_id", "int64", False),
)
"""``(column, Arrow type, nullable)`` of the training Parquet file, in column order."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass
class PreferencePair:
    """One rater's preference between two answers to a prompt.

    Attributes:
        prompt: The consumer's query.
        chosen: The answer the rater preferred.
        rejected: The answer the rater did not prefer.
        pool_id: Pool the call was served in.
        call_seq: Sequence number of the paid call.
        rater: Address of the rater.
        chosen_source: Where ``chosen`` came from, e.g. ``"model:3"`` or ``"search:k=5"``.
        rejected_source: Where ``rejected`` came from.
        chosen_records: Record ids behind ``chosen``.
        rejected_records: Record ids behind ``rejected``.
        time: Unix time of the rating.
    """

    prompt: str
    chosen: str
    rejected: str
    pool_id: int
    call_seq: int
    rater: str
    chosen_source: str
    rejected_source: str
    chosen_records: list[int]
    rejected_records: list[int]
    time: int


@dataclass
class TrainingRow:
    """One accepted, consented record of a training export.

    Attributes:
        record_id: The record's id in the pool.
        text: The record's text.
        label: Its label, if any.
        contributor: Address of the contributor.
        record_hash: ``0x…`` content hash the consent signs.
        licence: SPDX id of the licence granted.
        purposes: Purpose bit set granted by the consent.
        consent_expiry: Unix time the consent expires.
        batch_id: Anchored batch holding the record, if anchored.
        batch_root: ``0x…`` Merkle root of that batch.
        score: The record's quality score.
        pool_id: The pool.
    """

    record_id: int
    text: str
    label: str | None
    contributor: str
    record_hash: str
    licence: str
    purposes: int
    consent_expiry: int
    batch_id: int | None
    batch_root: str | None
    score: float
    pool_id: int


def _licence_ok(licence: str) -> bool:
    return licence.strip().casefold() in _LICENCE_KEYS


def consent_allows_training(purposes: int, licence: str, expiry: int, now: int) -> bool:
    """Whether a record may go into a training export now.

    All of: the consent grants :data:`~fairwheel.domain.typed_data.PURPOSE_TRAINING`; the
    licence is in :data:`TRAINING_LICENCES` (SPDX ids, compared case-insensitively); and the
    consent has not expired (``expiry > now``, the same test the gate and serving apply, so an
    ``expiry`` of 0 is treated as expired, not as "never").

    Args:
        purposes: The consent's purpose bit set.
        licence: The consent's licence string.
        expiry: The consent's expiry (unix seconds).
        now: The current time (unix seconds, chain time).

    Returns:
        True if the record may be exported for training.
    """
    return purposes & PURPOSE_TRAINING == PURPOSE_TRAINING and _licence_ok(licence) and expiry > now


def consent_allows_preferences(purposes: int, licence: str, expiry: int, now: int) -> bool:
    """Whether a record may back a chosen or rejected answer in a preference export now.

    A preference pair quotes the records behind its answers, and preference data is training
    data, so the rule is the training one: :data:`PURPOSE_TRAINING`, a licence in
    :data:`TRAINING_LICENCES`, and ``expiry > now``. A pair is exportable only if every record
    in its ``chosen_records`` and ``rejected_records`` passes.

    Args:
        purposes: The consent's purpose bit set.
        licence: The consent's licence string.
        expiry: The consent's expiry (unix seconds).
        now: The current time (unix seconds, chain time).

    Returns:
        True if the record may back an exported preference pair.
    """
    return consent_allows_training(purposes, licence, expiry, now)


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it over ``path``.

    On any error the temporary file is removed and ``path`` is left untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _preference_line(pair: PreferencePair) -> str:
    rest = {k: v for k, v in asdict(pair).items() if k not in ("prompt", "chosen", "rejected")}
    obj = {
        "prompt": pair.prompt,
        "chosen": pair.chosen,
        "rejected": pair.rejected,
        "provenance": dict(sorted(rest.items())),
    }
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def write_preferences_jsonl(pairs: Iterable[PreferencePair], path: Path) -> int:
    """Write preference pairs as JSON Lines, atomically.

    Args:
        pairs: The pairs, already filtered by consent.
        path: Target file (replaced if it exists).

    Returns:
        The number of lines written.
    """
    count = 0
    with _atomic_target(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for pair in pairs:
            fh.write(_preference_line(pair) + "\n")
            count += 1
    return count


def _check_int64(rows: list[TrainingRow]) -> None:
    ints = [name for name, kind, _ in TRAINING_SCHEMA_FIELDS if kind == "int64"]
    for row in rows:
        for name in ints:
            value = getattr(row, name)
            if value is not None and not _INT64_MIN <= value <= _INT64_MAX:
                raise ValueError(f"record {row.record_id}: {name}={value} does not fit int64")


def write_training_parquet(
    rows: Iterable[TrainingRow], path: Path, *, metadata: Mapping[str, str]
) -> int:
    """Write training rows as one Parquet file with an explicit schema, atomically.

    Args:
        rows: The rows, already filtered by consent.
        path: Target file (replaced if it exists).
        metadata: File-level key-value metadata (e.g. pool id, dataset root, export time).
            Keys and values must be strings; keys starting with ``ARROW:`` are reserved.

    Returns:
        The number of rows written.

    Raises:
        ValueError: On non-string or reserved metadata, or an integer that does not fit int64.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError("parquet metadata keys and values must be strings")
        if key.startswith("ARROW:"):
            raise ValueError(f"metadata key {key!r} is reserved by Arrow")
    items = list(rows)
    _check_int64(items)
    types = {"int64": pa.int64(), "string": pa.string(), "float64": pa.float64()}
    schema = pa.schema(
        [pa.field(name, types[kind], nullable=null) for name, kind, null in TRAINING_SCHEMA_FIELDS],
        metadata={k.encode(): v.encode() for k, v in metadata.items()},
    )
    columns: dict[str, list[Any]] = {name: [] for name, _, _ in TRAINING_SCHEMA_FIELDS}
    for row in items:
        for name in columns:
            columns[name].append(getattr(row, name))
    table = pa.Table.from_pydict(columns, schema=schema)
    with _atomic_target(path) as tmp:
        pq.write_table(table, str(tmp))
    return len(items)


def read_training_parquet(path: Path) -> list[TrainingRow]:
    """Read a file written by :func:`write_training_parquet` back into rows.

    Args:
        path: The Parquet file.

    Returns:
        The rows, in file order.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(str(path))
    names = [f.name for f in fields(TrainingRow)]
    return [TrainingRow(**{k: rec[k] for k in names}) for rec in table.to_pylist()]


def read_training_metadata(path: Path) -> dict[str, str]:
    """The caller's file-level metadata of a training Parquet file (Arrow's own keys left out).

    Args:
        path: The Parquet file.

    Returns:
        Key → value, as given to :func:`write_training_parquet`.
    """
    import pyarrow.parquet as pq

    raw = pq.read_metadata(str(path)).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.decode().startswith("ARROW:")}
