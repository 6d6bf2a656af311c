"""Consumer feedback on paid answers (pure capabilities).

How feedback flows:

1. **Ratings** (:mod:`~fairwheel.feedback.ratings`): a paying consumer rates a
   paid call (thumbs, stars) or picks the better of two answers (arena).
2. **Raters** (:mod:`~fairwheel.feedback.raters`): every rating becomes a binary
   vote; raters are judged by agreement with hidden gold items and with the
   leave-one-out majority of the other raters; spammers get weight 0, and the
   pool's feedback budget is split over the rest by weight × judged votes, in
   integer base units with the remainder carried as dust.
3. **Records** (:mod:`~fairwheel.feedback.reweight`): each vote, times its
   rater's weight, is spread over the records behind the answer by their
   attribution shares; a Beta posterior per record gives its weight in
   ``[floor, 1]`` (1 without feedback) and flags records that probably produce
   bad answers for review.
4. **Models** (:mod:`~fairwheel.feedback.arena`): arena votes give a candidate
   model's win rate against the current one with a Wilson interval; together
   with held-out accuracy it decides whether the candidate is promoted.

No node, store, chain or network access; scipy is imported lazily (only by
:func:`~fairwheel.feedback.reweight.p_bad`), so importing this package is light.
"""

from fairwheel.feedback.arena import (
    WinRate,
    should_promote,
    tally_arena,
    wilson_interval,
    win_rate,
)
from fairwheel.feedback.raters import (
    RaterJudgement,
    RaterPayout,
    RaterPolicy,
    judge_raters,
    pay_raters,
    rater_weight,
)
from fairwheel.feedback.ratings import (
    ARENA,
    KINDS,
    STARS,
    THUMBS,
    Rating,
    goodness,
    to_bit,
    validate_rating,
)
from fairwheel.feedback.reweight import (
    RecordFeedback,
    ReviewCandidate,
    ReweightPolicy,
    add_feedback,
    add_rating,
    p_bad,
    record_weight,
    record_weights,
    review_candidates,
)

__all__ = [
    "ARENA",
    "KINDS",
    "STARS",
    "THUMBS",
    "RaterJudgement",
    "RaterPayout",
    "RaterPolicy",
    "Rating",
    "RecordFeedback",
    "ReviewCandidate",
    "ReweightPolicy",
    "WinRate",
    "add_feedback",
    "add_rating",
    "goodness",
    "judge_raters",
    "p_bad",
    "pay_raters",
    "rater_weight",
    "record_weight",
    "record_weights",
    "review_candidates",
    "should_promote",
    "tally_arena",
    "to_bit",
    "validate_rating",
    "wilson_interval",
    "win_rate",
]
