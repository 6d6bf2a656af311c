"""Junk, wrong language and outliers, judged against the pool's own text."""

from __future__ import annotations

import random

import pytest

from fairwheel.embed import FakeHashEmbedder
from fairwheel.quality.junk import (
    JunkPolicy,
    PoolProfile,
    judge_standalone,
    looks_like_language,
    surface_features,
    words_of,
)
from fairwheel.quality.synthetic import JUNK_KINDS, junk_text
from fairwheel.sim.data import synthetic_support_queries


@pytest.fixture(scope="module")
def pool() -> tuple[PoolProfile, list[str], list[str]]:
    texts = [e.text for e in synthetic_support_queries(2000, seed=7)]
    members, held_out = texts[:600], texts[600:]
    vectors = FakeHashEmbedder(128).embed(members)
    return PoolProfile(members, vectors), members, held_out


def test_fixed_rules_need_no_pool() -> None:
    assert judge_standalone("!!!! ???? 1234 $$$$").kind == "junk"
    assert judge_standalone("aaaaaaaaaaaaaaaaaaaa").reject
    assert judge_standalone("Where is my card?").kind is None
    feats = surface_features("Where is my card?")
    assert feats["letters"] > 0.9 and 0.3 < feats["vowels"] < 0.6
    assert looks_like_language(surface_features("Где моя карта?"))
    assert not looks_like_language(surface_features("xkcd qwrt zzzp"))


def test_every_kind_of_junk_is_flagged(pool: tuple[PoolProfile, list[str], list[str]]) -> None:
    profile, members, _ = pool
    vocabulary = sorted({w for t in members for w in words_of(t)})
    rng = random.Random(11)
    emb = FakeHashEmbedder(128)
    for kind in JUNK_KINDS:
        caught = 0
        for _ in range(20):
            text = junk_text(rng, vocabulary, kind)
            caught += profile.judge(text, emb.embed([text])[0]).kind is not None
        # Salad of the pool's own words is the hard case (the label check catches more).
        assert caught >= (12 if kind == "word_salad" else 19), kind


def test_foreign_text_is_wrong_language(pool: tuple[PoolProfile, list[str], list[str]]) -> None:
    profile, _, _ = pool
    for text in (
        "¿Dónde está mi tarjeta? No la encuentro desde ayer.",
        "Wo ist meine Karte? Ich warte seit einer Woche.",
        "Je voudrais annuler ma commande, s'il vous plaît.",
    ):
        verdict = profile.judge(text)
        assert verdict.kind == "wrong_language" and verdict.reject, (text, verdict)
        assert verdict.reasons[0].startswith("wrong_language ")


def test_fresh_honest_text_is_not_flagged(pool: tuple[PoolProfile, list[str], list[str]]) -> None:
    profile, _, held_out = pool
    emb = FakeHashEmbedder(128)
    verdicts = [profile.judge(t, emb.embed([t])[0]) for t in held_out]
    assert sum(v.kind is not None for v in verdicts) <= 1
    assert all(0.0 <= v.score <= 1.0 for v in verdicts)


def test_members_are_judged_leave_one_out(pool: tuple[PoolProfile, list[str], list[str]]) -> None:
    profile, members, _ = pool
    verdicts = profile.judge_members(members[:50], rows=list(range(50)))
    assert sum(v.kind is not None for v in verdicts) <= 1
    # Leave-one-out: a member's own words do not vouch for it.
    assert profile.vocab_share("zqxv card", own="zqxv card") == 0.5


def test_small_pool_only_applies_fixed_rules() -> None:
    profile = PoolProfile(["my card is lost", "where is my card"], policy=JunkPolicy())
    verdict = profile.judge("completely unrelated sentence about gardening")
    assert verdict.kind is None and "pool too small" in verdict.reasons[0]
    with pytest.raises(ValueError):
        PoolProfile(["only one"])
