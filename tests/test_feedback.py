"""Feedback: ratings, rater judgement and pay, record re-weighting, arena promotion."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fairwheel.feedback as fb
from fairwheel.errors import SchemaError
from fairwheel.feedback import (
    RaterJudgement,
    RaterPayout,
    RaterPolicy,
    Rating,
    RecordFeedback,
    ReweightPolicy,
    add_feedback,
    add_rating,
    goodness,
    judge_raters,
    p_bad,
    pay_raters,
    record_weight,
    record_weights,
    review_candidates,
    should_promote,
    tally_arena,
    to_bit,
    validate_rating,
    wilson_interval,
    win_rate,
)

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20


def rating(kind: str, value: int, seq: int = 7, rater: str = ALICE) -> Rating:
    return Rating(call_seq=seq, rater=rater, kind=kind, value=value, time=1_700_000_000)


# ------------------------------------------------------------------ ratings


@pytest.mark.parametrize(
    ("kind", "values"), [("thumbs", (-1, 1)), ("stars", (1, 2, 3, 4, 5)), ("arena", (0, 1))]
)
def test_allowed_values_validate(kind: str, values: tuple[int, ...]) -> None:
    for v in values:
        validate_rating(kind, v)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("like", 1, "rating kind must be one of thumbs, stars, arena"),
        (None, 1, "rating kind"),
        ("thumbs", 0, r"thumbs rating must have a value in \{-1, 1\}"),
        ("stars", 6, r"stars rating must have a value in \{1, 2, 3, 4, 5\}"),
        ("stars", 0, "stars rating"),
        ("arena", 2, r"arena rating must have a value in \{0, 1\}"),
        ("thumbs", True, "thumbs rating"),
        ("stars", 4.0, "stars rating"),
    ],
)
def test_bad_kind_or_value_is_refused_clearly(kind: object, value: object, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        validate_rating(kind, value)  # type: ignore[arg-type]


def test_rating_checks_its_fields_and_round_trips() -> None:
    r = rating("stars", 4)
    assert Rating.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with pytest.raises(SchemaError, match="lower-case 0x address"):
        rating("thumbs", 1, rater="0x" + "A1" * 20)
    with pytest.raises(SchemaError, match="lower-case 0x address"):
        rating("thumbs", 1, rater="0x1234")
    with pytest.raises(SchemaError, match="call_seq"):
        rating("thumbs", 1, seq=-1)
    with pytest.raises(SchemaError, match="thumbs rating"):
        rating("thumbs", 3)
    with pytest.raises(SchemaError, match="time"):
        Rating(call_seq=1, rater=ALICE, kind="thumbs", value=1, time=True)
    with pytest.raises(SchemaError, match="missing"):
        Rating.from_dict({"call_seq": 1, "rater": ALICE, "kind": "thumbs", "value": 1})


def test_goodness_and_bits() -> None:
    assert goodness(rating("thumbs", -1)) == 0.0
    assert goodness(rating("thumbs", 1)) == 1.0
    assert [goodness(rating("stars", v)) for v in range(1, 6)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(SchemaError, match="arena rating has no goodness"):
        goodness(rating("arena", 1))
    assert [to_bit(rating("thumbs", v)) for v in (-1, 1)] == [0, 1]
    assert [to_bit(rating("stars", v)) for v in range(1, 6)] == [0, 0, None, 1, 1]
    assert [to_bit(rating("arena", v)) for v in (0, 1)] == [0, 1]


# ------------------------------------------------------------------- raters

TRUTH = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]  # items 0..9
GOLD = {i: TRUTH[i] for i in range(4)}  # items 0..3 are hidden gold


def crowd(h3_wrong: tuple[int, ...] = ()) -> list[tuple[int, str, int]]:
    """Three honest raters and a spammer who always answers 1."""
    votes = []
    for item, truth in enumerate(TRUTH):
        for h in ("h1", "h2", "h3"):
            bit = 1 - truth if h == "h3" and item in h3_wrong else truth
            votes.append((item, h, bit))
        votes.append((item, "spam", 1))
    return votes


def test_honest_raters_and_a_constant_spammer() -> None:
    judged = judge_raters(crowd(), GOLD)
    assert list(judged) == ["h1", "h2", "h3", "spam"]
    for h in ("h1", "h2", "h3"):
        assert judged[h] == RaterJudgement(
            ratings=10,
            judged_votes=10,
            gold_seen=4,
            agreement=1.0,
            judged=True,
            spammy=False,
            weight=1.0,
        )
    # spammer: 2 of 4 gold items right (weight 2 each), 3 of 6 consensus items right
    spam = judged["spam"]
    assert spam.agreement == (2 * 2 + 3) / (4 * 2 + 6) == 0.5
    assert spam.judged and spam.spammy and spam.weight == 0.0

    out = pay_raters(judged, 1000)
    assert out.paid == {"h1": 333, "h2": 333, "h3": 333}
    assert out.dust == 1 and out.spammy == ["spam"] and out.budget == 1000


def test_agreement_is_gold_weighted_and_leave_one_out() -> None:
    # h3 is wrong on gold item 0 and on consensus item 5 (truth 1)
    judged = judge_raters(crowd(h3_wrong=(0, 5)), GOLD)
    h3 = judged["h3"]
    assert h3.agreement == (3 * 2 + 5) / (4 * 2 + 6) == 11 / 14
    assert h3.weight == pytest.approx(16 / 49, rel=1e-12)  # (2 * 11/14 - 1) ** 2
    assert not h3.spammy
    # on item 5 the others of h1 are h2=1, h3=0, spam=1: majority 1, h1 still agrees
    assert judged["h1"].agreement == 1.0
    # weights 1, 1, 16/49 over 10 judged votes each: 1000 * 49/114 = 429.8, 1000 * 16/114 = 140.4
    out = pay_raters(judged, 1000)
    assert out.paid == {"h1": 429, "h2": 429, "h3": 140} and out.dust == 2


def test_a_rater_with_too_few_ratings_is_not_judged_spammy() -> None:
    votes = crowd() + [(i, "newbie", 1 - TRUTH[i]) for i in range(3)]  # 3 votes, all wrong
    judged = judge_raters(votes, GOLD)
    newbie = judged["newbie"]
    assert newbie.judged_votes == 3 and newbie.agreement == 0.0
    assert not newbie.judged and not newbie.spammy
    assert newbie.weight == 0.0  # below chance: nothing to pay for either
    strict = judge_raters(votes, GOLD, RaterPolicy(min_ratings=3))
    assert strict["newbie"].judged and strict["newbie"].spammy


def test_an_adversary_who_is_always_wrong_earns_nothing() -> None:
    votes = crowd() + [(i, "liar", 1 - t) for i, t in enumerate(TRUTH)]
    judged = judge_raters(votes, GOLD)
    assert judged["liar"].agreement == 0.0 and judged["liar"].spammy
    assert judged["liar"].weight == 0.0
    assert "liar" not in pay_raters(judged, 10**18).paid


def test_ties_and_thin_items_give_no_evidence() -> None:
    # item "t": four others split 2-2; item "thin": only two others
    votes = [("t", r, b) for r, b in (("a", 0), ("b", 0), ("c", 1), ("d", 1), ("x", 1))]
    votes += [("thin", r, 1) for r in ("a", "b", "x")]
    judged = judge_raters(votes, {})
    assert judged["x"].ratings == 2 and judged["x"].judged_votes == 0
    assert judged["x"].agreement is None and judged["x"].weight == 0.0
    # "a" sees b=0, c=1, d=1, x=1 on item t: majority 1, a disagrees; thin: 2 others only
    assert judged["a"].judged_votes == 1 and judged["a"].agreement == 0.0
    assert judged["a"].gold_seen == 0
    looser = judge_raters(votes, {}, RaterPolicy(min_items_for_consensus=2))
    assert looser["x"].judged_votes == 1 and looser["x"].agreement == 1.0


def test_bad_votes_are_refused() -> None:
    with pytest.raises(SchemaError, match="voted twice"):
        judge_raters([(1, "a", 1), (1, "a", 0)], {})
    with pytest.raises(SchemaError, match="bit must be 0 or 1"):
        judge_raters([(1, "a", 2)], {})
    with pytest.raises(SchemaError, match="gold must be 0 or 1"):
        judge_raters([(1, "a", 1)], {1: -1})
    with pytest.raises(SchemaError, match="rater must be a string"):
        judge_raters([(1, 5, 1)], {})  # type: ignore[list-item]
    with pytest.raises(SchemaError, match="spam_agreement"):
        RaterPolicy(spam_agreement=1.5)
    with pytest.raises(SchemaError, match="min_ratings"):
        RaterPolicy(min_ratings=0)
    with pytest.raises(SchemaError, match="gold_weight"):
        RaterPolicy(gold_weight=0.0)


def _judgement(weight: float, votes: int, spammy: bool = False) -> RaterJudgement:
    return RaterJudgement(votes, votes, 0, None, True, spammy, weight)


def test_pay_with_nobody_weighted_is_all_dust() -> None:
    out = pay_raters({"a": _judgement(0.0, 10), "b": _judgement(1.0, 0)}, 777)
    assert out.paid == {} and out.dust == 777 and out.spammy == []
    assert pay_raters({}, 5).dust == 5
    spam = pay_raters({"a": _judgement(1.0, 10, spammy=True)}, 100)
    assert spam.paid == {} and spam.dust == 100 and spam.spammy == ["a"]
    with pytest.raises(SchemaError, match="budget"):
        pay_raters({}, -1)
    with pytest.raises(SchemaError, match="weight"):
        pay_raters({"a": _judgement(float("nan"), 1)}, 1)


def test_payout_checks_conservation_and_round_trips() -> None:
    out = pay_raters({"a": _judgement(1.0, 3), "b": _judgement(0.25, 4)}, 10**30)
    assert RaterPayout.from_dict(json.loads(json.dumps(out.to_dict()))) == out
    with pytest.raises(SchemaError, match="conserve"):
        RaterPayout(100, {"a": 60}, 39)


weights = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))
judgement_sets = st.dictionaries(
    st.sampled_from([f"0x{i:040x}" for i in range(1, 10)]),
    st.tuples(weights, st.integers(0, 10_000), st.booleans()),
    max_size=9,
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(0, 1000), st.integers(0, 10**30)), judgement_sets)
def test_rater_pay_conserves_the_budget(budget: int, raw: dict) -> None:
    judgements = {r: _judgement(w, n, s) for r, (w, n, s) in raw.items()}
    out = pay_raters(judgements, budget)
    assert sum(out.paid.values()) + out.dust == budget and out.dust >= 0
    assert out.spammy == sorted(r for r, (_, _, s) in raw.items() if s)
    claims = {r: Fraction(w) * n for r, (w, n, s) in raw.items() if not s and w * n > 0}
    total = sum(claims.values())
    for r in out.paid:
        assert r in claims  # spammers and weightless raters get nothing
    if not claims:
        assert out.dust == budget
        return
    assert out.dust <= len(claims) - 1  # rounding down loses under one unit per rater
    for r, c in claims.items():
        exact = budget * c / total
        assert abs(out.paid.get(r, 0) - exact) <= 1 + budget * Fraction(1, 10**9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from("abcdef"), st.integers(0, 1)), max_size=40
    ),
    st.dictionaries(st.integers(0, 7), st.integers(0, 1), max_size=4),
)
def test_judgements_are_consistent(rows: list, gold: dict) -> None:
    votes = list({(i, r): b for i, r, b in rows}.items())
    judged = judge_raters([(i, r, b) for (i, r), b in votes], gold)
    assert sum(j.ratings for j in judged.values()) == len(votes)
    for j in judged.values():
        assert 0 <= j.gold_seen <= j.judged_votes <= j.ratings
        assert 0.0 <= j.weight <= 1.0
        assert (j.agreement is None) == (j.judged_votes == 0)
        assert j.judged == (j.judged_votes >= 5)
        if j.spammy:
            assert j.judged and j.weight == 0.0


# ----------------------------------------------------------------- reweight


def test_no_feedback_weighs_exactly_one() -> None:
    assert record_weight(RecordFeedback()) == 1.0
    assert record_weights({1: RecordFeedback(), 2: RecordFeedback(0.0, 0.0)}) == {1: 1.0, 2: 1.0}
    odd = ReweightPolicy(prior_good=0.7, prior_bad=0.3)
    assert record_weight(RecordFeedback(), odd) == 1.0


def test_three_full_bad_votes_halve_the_weight() -> None:
    feedback: dict[int, RecordFeedback] = {}
    for _ in range(3):
        add_feedback(feedback, [(42, 1.0)], bit=0, weight=1.0)
    assert feedback == {42: RecordFeedback(good=0.0, bad=3.0)}
    # posterior Beta(2, 4): mean 2/6; prior mean 2/3
    assert record_weights(feedback) == {42: 0.5}


def test_blame_follows_attribution_shares_and_rater_weight() -> None:
    feedback: dict[int, RecordFeedback] = {}
    add_feedback(feedback, [(1, 0.5), (2, 0.25)], bit=0, weight=1.0)
    add_feedback(feedback, [(1, 0.5), (2, 0.25)], bit=1, weight=0.5)
    add_feedback(feedback, [(1, 1.0)], bit=0, weight=0.0)  # a spammer moves nothing
    assert feedback == {1: RecordFeedback(0.25, 0.5), 2: RecordFeedback(0.125, 0.25)}
    # record 1: Beta(2.25, 1.5), mean 2.25/3.75 = 0.6 → 0.6 / (2/3) = 0.9
    assert record_weight(feedback[1]) == pytest.approx(0.9, abs=1e-15)
    add_feedback(feedback, [(1, 0.6), (1, 0.4)], bit=0)  # listed twice: shares add up
    assert feedback[1] == RecordFeedback(0.25, 1.5)


def test_weight_has_a_floor_and_a_cap() -> None:
    bad = RecordFeedback(bad=100.0)
    assert record_weight(bad) == 0.1
    assert record_weight(bad, ReweightPolicy(floor=0.0)) == pytest.approx(3 / 103, rel=1e-12)
    assert record_weight(RecordFeedback(good=10.0)) == 1.0
    assert record_weight(RecordFeedback(good=10.0, bad=1.0)) == 1.0  # 12/14 > 2/3
    assert record_weight(RecordFeedback(good=1.0, bad=2.0)) == pytest.approx(0.75, abs=1e-15)


def test_bad_feedback_input_changes_nothing() -> None:
    feedback = {1: RecordFeedback(bad=1.0)}
    with pytest.raises(SchemaError, match="sum to more than 1"):
        add_feedback(feedback, [(1, 0.7), (2, 0.7)], bit=0)
    with pytest.raises(SchemaError, match="share"):
        add_feedback(feedback, [(1, -0.1)], bit=0)
    with pytest.raises(SchemaError, match="bit"):
        add_feedback(feedback, [(1, 0.1)], bit=2)
    with pytest.raises(SchemaError, match="weight"):
        add_feedback(feedback, [(1, 0.1)], bit=1, weight=-1.0)
    assert feedback == {1: RecordFeedback(bad=1.0)}
    with pytest.raises(SchemaError, match="bad"):
        RecordFeedback(bad=-1.0)
    with pytest.raises(SchemaError, match="bad_rate"):
        ReweightPolicy(bad_rate=1.0)


def test_ratings_feed_records() -> None:
    feedback: dict[int, RecordFeedback] = {}
    assert add_rating(feedback, rating("thumbs", -1), [(3, 1.0)], 1.0)
    assert add_rating(feedback, rating("stars", 5), [(3, 0.5)], 0.5)
    assert not add_rating(feedback, rating("stars", 3), [(3, 1.0)], 1.0)
    assert feedback == {3: RecordFeedback(good=0.25, bad=1.0)}
    with pytest.raises(SchemaError, match="arena ratings compare models"):
        add_rating(feedback, rating("arena", 1), [(3, 1.0)], 1.0)


def _beta_cdf(x: Fraction, a: int, b: int) -> Fraction:
    """I_x(a, b) for integers a, b: P(Binomial(a + b - 1, x) >= a)."""
    n = a + b - 1
    return sum((comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1)), Fraction(0))


def _beta_cdf_half(a: int, b: int) -> Fraction:
    return _beta_cdf(Fraction(1, 2), a, b)


@pytest.mark.parametrize(("good", "bad"), [(0, 0), (0, 2), (2, 0), (2, 2), (0, 5), (3, 7)])
@pytest.mark.parametrize("bad_rate", [Fraction(1, 2), Fraction(3, 10), Fraction(9, 10)])
def test_p_bad_is_the_beta_tail(good: int, bad: int, bad_rate: Fraction) -> None:
    # P(bad rate > b) = P(good rate < 1 - b), good rate ~ Beta(2 + good, 1 + bad)
    expected = _beta_cdf(1 - bad_rate, 2 + good, 1 + bad)
    policy = ReweightPolicy(bad_rate=float(bad_rate))
    got = p_bad(RecordFeedback(float(good), float(bad)), policy)
    assert got == pytest.approx(float(expected), abs=1e-12)


def test_review_needs_enough_bad_mass() -> None:
    assert _beta_cdf_half(2, 3) == Fraction(11, 16)  # the hand value used below
    feedback: dict[str, RecordFeedback] = {}
    add_feedback(feedback, [("r", 1.0)], bit=0)
    assert review_candidates(feedback) == []  # mass 1 < 2, and p_bad = 1/2 is not above 1/2
    add_feedback(feedback, [("r", 0.5)], bit=0)
    assert p_bad(feedback["r"]) > 0.5 and review_candidates(feedback) == []  # mass 1.5 < 2
    add_feedback(feedback, [("r", 0.5)], bit=0)
    [cand] = review_candidates(feedback)
    assert cand == ("r", pytest.approx(11 / 16, abs=1e-12), 0.0, 2.0)
    assert cand.record_id == "r"


def test_review_candidates_are_sorted_and_thresholded() -> None:
    feedback = {
        "mixed": RecordFeedback(good=2.0, bad=2.0),  # p_bad = 22/64: not above 0.5
        "bad2": RecordFeedback(bad=2.0),  # 11/16
        "good": RecordFeedback(good=4.0),
        "bad5": RecordFeedback(bad=5.0),  # 120/128
    }
    out = review_candidates(feedback)
    assert [c.record_id for c in out] == ["bad5", "bad2"]
    assert out[0].p_bad == pytest.approx(120 / 128, abs=1e-12)
    lenient = review_candidates(feedback, ReweightPolicy(review_threshold=0.3))
    assert [c.record_id for c in lenient] == ["bad5", "bad2", "mixed"]


# -------------------------------------------------------------------- arena


def test_wilson_interval_against_hand_values() -> None:
    # (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), p = 0.8, n = 10, z = 1.96,
    # evaluated with 50-digit decimals
    wr = win_rate(8, 10)
    assert (wr.wins, wr.losses, wr.n, wr.rate) == (8, 2, 10, 0.8)
    assert wr.wilson_low == pytest.approx(0.49015684672072339125, abs=1e-9)
    assert wr.wilson_high == pytest.approx(0.94331905201930666308, abs=1e-9)
    low, high = wilson_interval(5, 25)
    assert low == pytest.approx(0.08860454100652483340, abs=1e-9)
    assert high == pytest.approx(0.39131335536538241169, abs=1e-9)


def test_wilson_interval_edges() -> None:
    none = win_rate(0, 0)
    assert (none.rate, none.wilson_low, none.wilson_high) == (0.5, 0.0, 1.0)
    zero = win_rate(0, 10)
    assert zero.wilson_low == 0.0
    assert zero.wilson_high == pytest.approx(1.96**2 / (10 + 1.96**2), abs=1e-12)
    assert win_rate(10, 10).wilson_high == 1.0
    for k in range(11):
        a, b = win_rate(k, 10), win_rate(10 - k, 10)
        assert a.wilson_low == pytest.approx(1 - b.wilson_high, abs=1e-12)
    with pytest.raises(SchemaError, match="exceed"):
        win_rate(3, 2)
    with pytest.raises(SchemaError, match="wins"):
        win_rate(-1, 2)


def test_tally_arena_counts_the_candidate_side() -> None:
    ratings = [
        rating("arena", 1, seq=1),  # candidate was B: win
        rating("arena", 1, seq=2),  # candidate was A: loss
        rating("arena", 0, seq=2, rater=BOB),  # win
        rating("arena", 0, seq=3),  # not a comparison of this candidate
        rating("thumbs", 1, seq=1),  # not an arena rating
    ]
    sides = {1: 1, 2: 0}
    wr = tally_arena(ratings, sides)
    assert (wr.wins, wr.losses) == (2, 1)
    assert (tally_arena(ratings, sides, exclude={BOB}).wins, wr.n) == (1, 3)
    with pytest.raises(SchemaError, match="twice"):
        tally_arena([*ratings, rating("arena", 0, seq=1)], sides)
    with pytest.raises(SchemaError, match="side"):
        tally_arena(ratings, {1: 2})


def test_first_candidate_is_promoted() -> None:
    ok, why = should_promote({"accuracy": 0.4}, None, None)
    assert ok and "no current model" in why


def test_worse_accuracy_is_refused_and_names_both_numbers() -> None:
    ok, why = should_promote({"accuracy": 0.81}, {"accuracy": 0.85}, None)
    assert not ok and "0.8100" in why and "0.8500" in why and "tolerance 0.0100" in why
    ok, why = should_promote({"accuracy": 0.845}, {"accuracy": 0.85}, None)
    assert ok and "no arena comparisons" in why
    # exactly at current - tolerance is not below it
    assert should_promote({"accuracy": 0.75}, {"accuracy": 1.0}, None, tolerance=0.25)[0]
    assert not should_promote({"accuracy": 0.75}, {"accuracy": 1.0}, None, tolerance=0.0)[0]


def test_losing_the_arena_is_refused_only_with_enough_comparisons() -> None:
    good = {"accuracy": 0.9}
    losing = win_rate(5, 25)  # upper end 0.391 < 0.5
    ok, why = should_promote(good, good, losing)
    assert not ok and "loses to the current model" in why and "won 5 of 25" in why
    assert "0.3913" in why
    ok, why = should_promote(good, good, win_rate(4, 19))  # upper end < 0.5, but only 19
    assert ok and "only 19 arena comparisons" in why
    assert not should_promote(good, good, win_rate(4, 19), min_arena=19)[0]
    ok, why = should_promote(good, good, win_rate(10, 25))  # upper end 0.593
    assert ok and "won 10 of 25" in why


def test_promotion_refuses_bad_metrics() -> None:
    with pytest.raises(SchemaError, match="no 'accuracy'"):
        should_promote({}, None, None)
    with pytest.raises(SchemaError, match="current model's metrics"):
        should_promote({"accuracy": 0.5}, {"f1": 0.5}, None)
    with pytest.raises(SchemaError, match=r"in \[0, 1\]"):
        should_promote({"accuracy": 1.5}, None, None)
    with pytest.raises(SchemaError, match="tolerance"):
        should_promote({"accuracy": 0.5}, None, None, tolerance=-0.1)


# ---------------------------------------------------------------- package


def test_package_exports_and_stays_light() -> None:
    for name in fb.__all__:
        assert getattr(fb, name) is not None
    code = "import sys, fairwheel.feedback; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
