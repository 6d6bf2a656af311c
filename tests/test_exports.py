"""Pool exports: preference pairs as JSONL, training rows as Parquet, and the consent rules."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fairwheel import exports
from fairwheel.domain.typed_data import PURPOSE_RESALE, PURPOSE_SEARCH, PURPOSE_TRAINING
from fairwheel.exports import (
    PreferencePair,
    TrainingRow,
    consent_allows_preferences,
    consent_allows_training,
    read_training_metadata,
    read_training_parquet,
    write_preferences_jsonl,
    write_training_parquet,
)


def _pair(i: int) -> PreferencePair:
    return PreferencePair(
        prompt=f"what is {i}? — ünïcode",
        chosen="answer A",
        rejected="answer B\nwith a newline",
        pool_id=1,
        call_seq=i,
        rater="0x" + "ab" * 20,
        chosen_source="model:3",
        rejected_source="search:k=5",
        chosen_records=[1, 2],
        rejected_records=[],
        time=1_700_000_000 + i,
    )


def _row(i: int, **over: object) -> TrainingRow:
    values: dict[str, object] = {
        "record_id": i,
        "text": f"text {i} ✓",
        "label": "pos" if i % 2 else None,
        "contributor": "0x" + "cd" * 20,
        "record_hash": "0x" + f"{i:064x}",
        "licence": "CC-BY-4.0",
        "purposes": PURPOSE_SEARCH | PURPOSE_TRAINING,
        "consent_expiry": 2**62,
        "batch_id": i // 2 if i % 3 else None,
        "batch_root": ("0x" + "ef" * 32) if i % 3 else None,
        "score": 0.25 * i,
        "pool_id": 7,
    }
    values.update(over)
    return TrainingRow(**values)  # type: ignore[arg-type]


def test_preferences_jsonl_round_trip_and_key_order(tmp_path: Path) -> None:
    path = tmp_path / "out" / "preferences.jsonl"
    pairs = [_pair(i) for i in range(3)]
    assert write_preferences_jsonl(pairs, path) == 3
    raw = path.read_text(encoding="utf-8")
    lines = raw.splitlines()
    assert len(lines) == 3 and raw.endswith("\n")
    assert "ünïcode" in raw  # not ASCII-escaped
    for pair, line in zip(pairs, lines, strict=True):
        obj = json.loads(line)
        assert list(obj) == ["prompt", "chosen", "rejected", "provenance"]
        prov = obj["provenance"]
        assert list(prov) == sorted(prov)
        assert set(prov) == {
            "pool_id", "call_seq", "rater", "chosen_source", "rejected_source",
            "chosen_records", "rejected_records", "time",
        }  # fmt: skip
        back = PreferencePair(prompt=obj["prompt"], chosen=obj["chosen"],
                              rejected=obj["rejected"], **prov)  # fmt: skip
        assert back == pair


def test_preferences_empty_and_generator(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    assert write_preferences_jsonl(iter([]), path) == 0
    assert path.read_text() == ""
    assert write_preferences_jsonl((_pair(i) for i in range(2)), path) == 2
    assert len(path.read_text().splitlines()) == 2


def test_training_parquet_round_trip_with_metadata(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rows = [_row(i) for i in range(6)]
    meta = {"pool_id": "7", "dataset_root": "0x" + "11" * 32, "exported_at": "1700000000"}
    path = tmp_path / "training.parquet"
    assert write_training_parquet(rows, path, metadata=meta) == 6
    assert read_training_parquet(path) == rows
    assert read_training_metadata(path) == meta
    schema = pq.read_schema(str(path))
    assert [str(t) for t in schema.types] == [
        "int64", "string", "string", "string", "string", "string",
        "int64", "int64", "int64", "string", "double", "int64",
    ]  # fmt: skip
    nullable = {f.name for f in schema if f.nullable}
    assert nullable == {"label", "batch_id", "batch_root"}
    assert (path.stat().st_mode & 0o777) == 0o644


def test_training_parquet_empty_and_nan_score(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    assert write_training_parquet([], path, metadata={}) == 0
    assert read_training_parquet(path) == []
    assert write_training_parquet([_row(1, score=float("nan"))], path, metadata={}) == 1
    assert math.isnan(read_training_parquet(path)[0].score)


def test_training_parquet_rejects_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    with pytest.raises(ValueError, match="int64"):
        write_training_parquet([_row(1, consent_expiry=2**64 - 1)], path, metadata={})
    with pytest.raises(ValueError, match="reserved"):
        write_training_parquet([_row(1)], path, metadata={"ARROW:schema": "x"})
    with pytest.raises(ValueError, match="strings"):
        write_training_parquet([_row(1)], path, metadata={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error for a null in a non-null column
        write_training_parquet([_row(1, text=None)], path, metadata={})
    assert list(tmp_path.iterdir()) == []


def _fail_replace(*args: object, **kwargs: object) -> None:
    raise OSError("disk on fire")


def test_failed_writes_leave_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "replace", _fail_replace)
    jsonl, parquet = tmp_path / "p.jsonl", tmp_path / "t.parquet"
    with pytest.raises(OSError, match="disk on fire"):
        write_preferences_jsonl([_pair(1)], jsonl)
    with pytest.raises(OSError, match="disk on fire"):
        write_training_parquet([_row(1)], parquet, metadata={})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    write_preferences_jsonl([_pair(1)], path)
    before = path.read_bytes()

    def pairs() -> Iterator[PreferencePair]:
        yield _pair(2)
        raise RuntimeError("source failed mid-way")

    with pytest.raises(RuntimeError):
        write_preferences_jsonl(pairs(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.jsonl"]


@pytest.mark.parametrize("check", [consent_allows_training, consent_allows_preferences])
def test_consent_rules(check: object) -> None:
    assert callable(check)
    now = 1_000
    ok = PURPOSE_SEARCH | PURPOSE_TRAINING
    assert check(ok, "CC-BY-4.0", now + 1, now)
    assert check(PURPOSE_TRAINING, "cc0-1.0", now + 1, now)  # SPDX ids are case-insensitive
    for licence in ("MIT", "Apache-2.0", "CC-BY-SA-4.0", "ODC-By-1.0", " CC-BY-4.0 "):
        assert check(ok, licence, now + 1, now), licence
    for licence in ("CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "proprietary", "", "?"):
        assert not check(ok, licence, now + 1, now), licence
    assert not check(PURPOSE_SEARCH, "CC-BY-4.0", now + 1, now)  # no training purpose
    assert not check(PURPOSE_SEARCH | PURPOSE_RESALE, "CC-BY-4.0", now + 1, now)
    assert not check(ok, "CC-BY-4.0", now, now)  # expired at now, as the gate decides
    assert not check(ok, "CC-BY-4.0", 0, now)


def test_licence_set_is_documented() -> None:
    assert "CC-BY-4.0" in exports.TRAINING_LICENCES
    assert not any("NC" in name or name == "proprietary" for name in exports.TRAINING_LICENCES)
