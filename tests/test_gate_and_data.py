"""Unit tests of pure pieces: normalisation, record identity, demo data, settings."""

from __future__ import annotations

import pytest

from fairwheel.config import load_settings
from fairwheel.domain.records import content_hash, duplicate_key, normalize_text, record_id
from fairwheel.errors import ConfigError, SchemaError
from fairwheel.sim.data import load_csv, synthetic_support_queries


def test_normalisation_catches_case_space_and_unicode_variants() -> None:
    assert normalize_text("  Ｈello\tWORLD  ") == "hello world"
    assert duplicate_key("Hello world") == duplicate_key("  HELLO   world ")
    assert duplicate_key("Hello world") != duplicate_key("Hello, world")


def test_record_identity_binds_pool_contributor_and_content() -> None:
    base = record_id(1, "0xAb", "text", "a")
    assert base == record_id(1, "0xab", "text", "a")
    assert base != record_id(2, "0xab", "text", "a")
    assert base != record_id(1, "0xac", "text", "a")
    assert base != record_id(1, "0xab", "text", "b")
    assert content_hash("t", None) != content_hash("t", "")


def test_synthetic_data_is_deterministic_distinct_and_balanced() -> None:
    a = synthetic_support_queries(120, seed=3)
    assert a == synthetic_support_queries(120, seed=3)
    assert len({e.text.lower() for e in a}) == 120
    counts = {label: sum(e.label == label for e in a) for label in {e.label for e in a}}
    assert set(counts.values()) == {20}


def test_load_csv_reports_missing_columns(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("sentence,intent\nhello,greet\n")
    with pytest.raises(SchemaError, match="needs columns"):
        load_csv(path)
    path.write_text("text,label\nhello,greet\n")
    assert load_csv(path)[0].label == "greet"


def test_settings_reject_unknown_chain_scheme(tmp_path) -> None:
    with pytest.raises(ConfigError):
        load_settings(home=tmp_path, chain_url="ftp://x")
    s = load_settings(home=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'fairwheel.db'}"
