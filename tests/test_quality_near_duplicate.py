"""Near duplicates: typo-tolerant word alignment, the two-tier rule, the in-memory finder."""

from __future__ import annotations

import random

import numpy as np

from fairwheel.embed import FakeHashEmbedder
from fairwheel.quality.candidates import ordered_candidates
from fairwheel.quality.near_duplicate import (
    BUCKET_CAP,
    NearDuplicateFinder,
    NearDuplicateRule,
    align,
    best_match,
    same_word,
    top_k,
)
from fairwheel.quality.synthetic import near_copy, recase, typo
from fairwheel.sim.data import synthetic_support_queries

POOL = [
    "How long does a transfer from Europe usually take to arrive?",
    "My card payment was declined at the supermarket this morning",
    "Can I change my PIN at any cash machine while abroad?",
    "Why was I charged an extra fee for topping up by card?",
    "I want to close my account and get my money back",
]


def test_same_word_tolerates_typos_only() -> None:
    assert same_word("transfer", "tarnsfer")  # swap
    assert same_word("my", "ym")
    assert same_word("account", "acount")
    assert same_word("arrive", "arive")
    assert same_word("card", "cart")  # one edit: a typo, whatever the meaning
    assert not same_word("my", "by")  # two-letter words must match exactly (or be swapped)
    assert not same_word("dollar", "euro")
    assert not same_word("transfer", "transaction")


def test_alignment_counts_dropped_and_added_words() -> None:
    old = "How long does a transfer from Europe usually take to arrive?"
    assert align(old.upper(), old) == align(old, old)
    al = align("how long does a tarnsfer from europe take to arrive", old)
    assert (al.dropped, al.added) == (1, 0)  # "usually" dropped, typo matched
    al = align(old + " thanks in advance", old)
    assert (al.dropped, al.added) == (0, 3)
    al = align("How long does a payment to Asia usually take to arrive?", old)
    assert (al.dropped, al.added) == (3, 3)  # transfer/payment, from/to, Europe/Asia


def test_rule_tiers() -> None:
    rule = NearDuplicateRule()
    old = POOL[0]
    assert rule.classify(align(typo(old, random.Random(1)), old)) == "strict"
    assert rule.classify(align(old + " thanks", old)) == "strict"
    assert rule.classify(align(old + " please help asap", old)) == "loose"
    assert rule.classify(align("How long does a payment to Asia usually take?", old)) is None
    assert rule.classify(align("top up", "top up now")) is None  # too short to judge


def test_finder_catches_typod_copies_of_other_contributors() -> None:
    emb = FakeHashEmbedder(64)
    finder = NearDuplicateFinder(dim=64)
    for key, text in enumerate(POOL):
        finder.add(key, text, emb.embed([text])[0], owner="0xHonest")
    rng = random.Random(7)
    for key, text in enumerate(POOL):
        copy = recase(typo(typo(text, rng), rng), rng)
        match = finder.find(copy, emb.embed([copy])[0], owner="0xCopier")
        assert match is not None and match.strict and match.owner == key, copy
        assert match.reason().startswith(f"near_duplicate duplicate_of {key}")
        # The same contributor may send variants of their own text.
        assert finder.find(copy, emb.embed([copy])[0], owner="0xhonest") is None
    finder.remove(0)
    assert finder.find(POOL[0] + "!", None, owner="0xCopier") is None
    finder.restore(0)
    assert finder.find(POOL[0] + "!", None, owner="0xCopier") is not None


def test_fresh_honest_text_is_not_a_near_duplicate() -> None:
    finder = NearDuplicateFinder()
    for key, text in enumerate(POOL):
        finder.add(key, text, owner="a")
    for text in (
        "Is there a limit on how much cash I can withdraw in one day?",
        "How do I verify my identity with a passport?",
        "My transfer to a friend in Canada has not arrived",
    ):
        assert finder.find(text, owner="b") is None


def test_generated_near_copies_are_mostly_caught_on_synthetic_queries() -> None:
    examples = [e.text for e in synthetic_support_queries(200, seed=3)]
    rng = random.Random(5)
    finder = NearDuplicateFinder()
    for key, text in enumerate(examples):
        finder.add(key, text, owner="honest")
    copies = [near_copy(rng.choice(examples), rng) for _ in range(100)]
    found = [finder.find(c, owner="copier") for c in copies]
    assert sum(m is not None for m in found) >= 95


def test_ordered_candidates_only_look_back_and_skip_own_rows() -> None:
    texts = [POOL[0], POOL[0] + " thanks", POOL[1], POOL[0] + " please"]
    vectors = FakeHashEmbedder(32).embed(texts)
    cands = ordered_candidates(texts, vectors, ["a", "b", "a", "a"], NearDuplicateRule())
    assert cands[0] == []
    assert [j for j, _ in cands[1]] == [0]
    assert [j for j, _ in cands[3]] == [1]  # rows 0 and 2 are the same owner's
    match = best_match(texts[1], [(0, texts[0], None)], NearDuplicateRule())
    assert match is not None and match.strict and match.alignment is not None
    assert np.isfinite(cands[1][0][1] or 0.0)


def test_finder_past_its_exact_limit_finds_what_brute_force_finds() -> None:
    """Past ``exact_limit`` candidates come from LSH buckets: copies are still caught."""
    texts = [q.text for q in synthetic_support_queries(300, seed=3)]
    exact = NearDuplicateFinder()
    bucketed = NearDuplicateFinder(exact_limit=50)  # buckets built once the 51st text is in
    for key, text in enumerate(texts):
        exact.add(key, text, owner=f"0x{key % 7}")
        bucketed.add(key, text, owner=f"0x{key % 7}")
    rng = random.Random(5)
    caught = 0
    for key in range(0, 300, 10):
        copy = typo(texts[key], rng)
        want = exact.find(copy, owner="0xcopier")
        got = bucketed.find(copy, owner="0xcopier")
        assert (got is None) == (want is None), copy
        if want is not None and got is not None:
            assert (got.kind, got.owner) == (want.kind, want.owner)
            caught += 1
    assert caught >= 25
    bucketed.remove(0)
    after = bucketed.find(texts[0] + "!", owner="0xcopier")
    assert after is None or after.owner != 0


def test_finder_buckets_stay_capped_on_templated_texts_and_still_catch_copies() -> None:
    """Texts sharing a boilerplate clause fill the same buckets; a bucket keeps its first
    ``BUCKET_CAP`` texts, so a query's candidates stop growing with the pool, and copies of
    early and late texts alike are still caught as brute force catches them."""
    rng = random.Random(8)
    texts = [
        f"{q.text} (ref {rng.randrange(10_000, 99_999)}, card ending {rng.randrange(1000, 9999)}"
        f", via app)"
        for q in synthetic_support_queries(700, seed=4)
    ]
    exact = NearDuplicateFinder()
    bucketed = NearDuplicateFinder(exact_limit=50)
    for key, text in enumerate(texts):
        exact.add(key, text, owner=f"0x{key % 7}")
        bucketed.add(key, text, owner=f"0x{key % 7}")
    bucketed.find(texts[0], owner="0xcopier")  # builds the buckets
    assert bucketed._buckets is not None
    sizes = [len(slots) for bucket in bucketed._buckets for slots in bucket.values()]
    assert max(sizes) == BUCKET_CAP  # the clause filled some buckets: the cap was needed
    agree = 0
    for key in range(0, len(texts), 25):
        copy = typo(texts[key], rng)
        want, got = exact.find(copy, owner="0xcopier"), bucketed.find(copy, owner="0xcopier")
        assert want is not None and got is not None, copy
        agree += (got.kind, got.owner) == (want.kind, want.owner)
    assert agree >= 0.9 * len(range(0, len(texts), 25))


def test_finder_takes_the_callers_neighbours() -> None:
    """Embedding neighbours given by the caller: removed and same-owner keys are skipped."""
    # No MinHash candidate can qualify: only the neighbours given are aligned.
    finder = NearDuplicateFinder(NearDuplicateRule(candidate_jaccard=1.01))
    for key, text in enumerate(POOL):
        finder.add(key, text, owner="0xhonest")
    copy = POOL[0] + " thanks"
    assert finder.find(copy, owner="0xcopier") is None
    match = finder.find(copy, owner="0xcopier", neighbours=[(0, 0.97), (99, 0.99), (1, 0.5)])
    assert match is not None and (match.owner, match.cosine) == (0, 0.97)
    assert finder.find(copy, owner="0xhonest", neighbours=[(0, 0.97)]) is None
    finder.remove(0)
    assert finder.find(copy, owner="0xcopier", neighbours=[(0, 0.97)]) is None


def test_agreements_count_equal_positions_like_the_plain_sum() -> None:
    from fairwheel.quality.near_duplicate import NUM_PERM, agreements

    rng = np.random.default_rng(5)
    sigs = rng.integers(0, 4, size=(300, NUM_PERM), dtype=np.uint16)  # many equal positions
    sig = sigs[7].copy()
    expected = (sigs == sig).sum(axis=1)
    got = agreements(sigs, sig)
    assert got.tolist() == expected.tolist()
    assert int(got[7]) == NUM_PERM
    assert agreements(sigs[[3, 1]], sig).tolist() == expected[[3, 1]].tolist()


def test_the_candidate_limit_breaks_ties_to_the_earliest_text() -> None:
    """Twelve equal texts of other owners tie on every signature position: the candidates
    aligned (at most ``rule.candidates``) are the earliest, so the owner is the first."""
    finder = NearDuplicateFinder(NearDuplicateRule(candidates=3))
    text = "how do i activate the new card i received"
    for key in range(12):
        finder.add(100 - key, text, owner=f"owner-{key}")
    match = finder.find(text + " today", owner="someone-else")
    assert match is not None and match.owner == 100


def test_unpaired_answers_more_than_limit_exactly_as_the_full_count() -> None:
    from fairwheel.quality.near_duplicate import _unpaired

    vocabulary = ["card", "crad", "cards", "my", "ym", "pin", "pins", "transfer", "transfre",
                  "a", "top", "up", "account", "acount", "refund", "euro"]  # fmt: skip
    rng = random.Random(11)
    for _ in range(2000):
        mine = tuple(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        theirs = tuple(rng.choice(vocabulary) for _ in range(rng.randint(0, 8)))
        full = sum(not any(same_word(w, o) for o in theirs) for w in mine)
        for limit in (0, 1, 2, 3):
            assert (_unpaired(mine, theirs, limit) > limit) == (full > limit), (mine, theirs)


def test_top_k_takes_the_largest_in_position_order_with_ties_to_the_earliest() -> None:
    values = np.array([0.5, 0.9, 0.5, -np.inf, 0.7, 0.5])
    assert top_k(values, 2).tolist() == [1, 4]
    assert top_k(values, 3).tolist() == [1, 4, 0]  # three tie at 0.5: the earliest is taken
    assert top_k(values, 4).tolist() == [1, 4, 0, 2]
    assert top_k(values, 9).tolist() == list(range(6))
    counts = np.array([3, 1, 3, 3], dtype=np.uint64)
    assert top_k(counts, 2).tolist() == [0, 2]
    rng = np.random.default_rng(3)
    for _ in range(200):  # the same set as a full stable sort, whatever the input
        v = rng.integers(0, 5, size=int(rng.integers(1, 30))).astype(np.float64)
        k = int(rng.integers(1, 10))
        want = sorted(sorted(range(len(v)), key=lambda i: (-v[i], i))[:k])
        assert sorted(top_k(v, k).tolist()) == want
