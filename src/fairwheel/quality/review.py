"""Re-running the quality checks as the pool grows, and each contributor's reputation.

* :func:`build_pool_quality` — the snapshot the gate judges new records against: the pool's
  text profile (junk, language, outliers) and its label model.
* :func:`rescore_pool` — judges every accepted or quarantined record again on the grown pool
  (leave-one-out and out-of-sample), so a record accepted early can be quarantined later as
  evidence accumulates (its earnings stop), and a quarantined one released.
* :class:`ContributorReputation` (in :mod:`fairwheel.quality.reputation`, re-exported here) —
  per-contributor counts, rate limits and flags.

All pure: the node feeds records and verdicts in and stores what comes out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fairwheel.domain.records import RecordStatus, RejectReason, duplicate_key
from fairwheel.quality.candidates import ordered_candidates
from fairwheel.quality.gate import GatePolicy, QualityReason, quality_score
from fairwheel.quality.junk import PoolProfile, judge_standalone
from fairwheel.quality.label_issues import LabelModel, LabelReport, label_issues
from fairwheel.quality.near_duplicate import best_match
from fairwheel.quality.reputation import (
    HONEST_MISTAKES,
    ContributorReputation,
    Evidence,
    ReputationPolicy,
    is_honest_mistake,
)

__all__ = [
    "HONEST_MISTAKES",
    "ContributorReputation",
    "Evidence",
    "PoolQuality",
    "PoolRecord",
    "ReputationPolicy",
    "RescoreResult",
    "Verdict",
    "build_pool_quality",
    "is_honest_mistake",
    "needs_refresh",
    "rescore_pool",
    "suspect_of",
]


@dataclass
class PoolQuality:
    """A snapshot of the pool the gate judges new records against.

    Attributes:
        size: Accepted records it was built from.
        profile: The text profile, None under ``policy.junk.min_pool`` records.
        labels: The label model, None under ``policy.label.min_pool`` labelled records.
        report: The out-of-sample label report of the pool's labelled records.
    """

    size: int
    profile: PoolProfile | None = None
    labels: LabelModel | None = None
    report: LabelReport | None = None


def build_pool_quality(
    texts: Sequence[str],
    labels: Sequence[str | None],
    vectors: npt.NDArray[np.float32],
    policy: GatePolicy,
    report: LabelReport | None = None,
    owners: Sequence[str | None] | None = None,
) -> PoolQuality:
    """Build the gate's snapshot from the pool's accepted records.

    Args:
        texts: Accepted texts.
        labels: Their labels (None for unlabelled records).
        vectors: Their embeddings ``(n, d)``.
        policy: The pool's thresholds.
        report: A label report already computed on exactly these labelled records (spares the
            cross-validation).
        owners: Their contributors: each contributor's text is then judged against the
            others' only (leave-contributor-out).
    """
    n = len(texts)
    profile = (
        PoolProfile(texts, vectors, policy.junk, owners=owners)
        if n >= policy.junk.min_pool
        else None
    )
    rows = [i for i, lab in enumerate(labels) if lab is not None]
    model = None
    if len(rows) >= policy.label.min_pool:
        lab = [str(labels[i]) for i in rows]
        if report is None:
            report = label_issues(vectors[rows], lab, policy.label)
        model = LabelModel(vectors[rows], lab, report, policy.label)
    return PoolQuality(n, profile, model, report)


def needs_refresh(
    built_at: int, size_now: int, growth: float = 0.25, every: int | None = None
) -> bool:
    """Whether to rescore and rebuild: the pool grew by ``growth`` (or by ``every`` records).

    Growth alone keeps rescoring amortised linear: the pool is rescored at sizes growing
    geometrically, so all rescores of a pool's life touch at most ``1 + 1/growth`` times its
    records. An absolute ``every`` makes it quadratic (a 100k pool rescored every 1,000 records
    rescans it 100 times), so it is off by default.
    """
    grown = size_now - built_at
    if grown <= 0:
        return False
    return grown >= growth * max(built_at, 1) or (every is not None and grown >= every)


@dataclass(frozen=True)
class PoolRecord:
    """A record as :func:`rescore_pool` sees it.

    Attributes:
        key: Its id (record id; first-ownership order is the order of the sequence given).
        text: Its content.
        label: Its label or None.
        contributor: Its contributor.
        status: accepted or quarantined.
        suspect_of: The earlier record it loosely matched at the gate (from its reasons).
        pinned: A reviewer decided its status: rescoring leaves it alone.
    """

    key: Hashable
    text: str
    label: str | None
    contributor: str
    status: RecordStatus = RecordStatus.ACCEPTED
    suspect_of: Hashable | None = None
    pinned: bool = False


@dataclass(frozen=True)
class Verdict:
    """The rescored verdict of one record."""

    key: Hashable
    status: RecordStatus
    score: float
    reasons: tuple[str, ...]
    label_issue_score: float = 0.0
    junk_score: float = 0.0


@dataclass
class RescoreResult:
    """What :func:`rescore_pool` returns: a verdict per record and the new snapshot."""

    verdicts: list[Verdict]
    pool: PoolQuality

    def changes(self, before: Sequence[PoolRecord]) -> list[Verdict]:
        """The verdicts whose status differs from the record's status before."""
        return [v for v, r in zip(self.verdicts, before, strict=True) if v.status != r.status]


def rescore_pool(
    records: Sequence[PoolRecord],
    vectors: npt.NDArray[np.float32],
    policy: GatePolicy,
    reputation: ContributorReputation | None = None,
    recheck_duplicates: bool = True,
) -> RescoreResult:
    """Judge every accepted or quarantined record again against the whole pool.

    Each record is scored against the other contributors' records (junk, outlier:
    leave-contributor-out) and out of sample (labels, by cross-validation). Then, in
    first-ownership order, duplicates are checked again among the records still standing: a
    record can have slipped past the gate because the one it copies was in quarantine at the
    time and has since been released.

    Quarantined: junk and outliers; records whose label confident learning flags; exact copies
    and strict near copies of an earlier standing record; and, for flagged contributors, their
    suspect (loosely matching) records, junk scores of at least ``policy.junk.flagged_score``
    and any label the pool's model would not predict.
    Everything else is accepted with a fresh score. Pinned records keep their status.
    Rescoring never rejects: quarantine stops earnings and can be undone by review.

    Args:
        records: Accepted and quarantined records, in first-ownership order.
        vectors: Their embeddings ``(n, d)``, aligned with ``records``.
        policy: The pool's thresholds.
        reputation: Contributor reputations (flags), if tracked.
        recheck_duplicates: Re-run the duplicate checks against the records that stand now
            but did not when the gate judged the others (released from quarantine, here or by
            a reviewer), and realign the gate's loose matches; when False, the gate's
            ``suspect_of`` is trusted as it is.

    Returns:
        Verdicts aligned with ``records`` and the snapshot of the records left accepted.
    """
    n = len(records)
    texts = [r.text for r in records]
    owners = [r.contributor for r in records]
    profile = (
        PoolProfile(texts, vectors, policy.junk, owners=owners)
        if n >= policy.junk.min_pool
        else None
    )
    rows = [i for i, r in enumerate(records) if r.label is not None]
    report = None
    if len(rows) >= policy.label.min_pool:
        report = label_issues(vectors[rows], [str(records[i].label) for i in rows], policy.label)
    position = {row: j for j, row in enumerate(rows)}
    flagged = set() if reputation is None else reputation.flagged()
    if profile is not None:
        junks = profile.judge_members(texts)
    else:
        junks = [judge_standalone(t, policy.junk) for t in texts]

    reasons: list[list[str]] = [[] for _ in range(n)]
    bad = [False] * n  # quarantined by content (junk, outlier, label)
    label_scores = [0.0] * n
    for i in range(n):
        if junks[i].kind is not None:
            bad[i] = True
            reasons[i].extend(junks[i].reasons)
        elif (
            records[i].contributor.lower() in flagged
            and junks[i].score >= policy.junk.flagged_score
        ):
            bad[i] = True
            reasons[i].append(
                f"{QualityReason.JUNK.value} junk_score {junks[i].score:.2f} contributor flagged"
            )
        if report is not None and i in position:
            j = position[i]
            label_scores[i] = float(report.scores[j])
            suggested = report.suggested(j)
            # A flagged contributor loses the benefit of the doubt: any label the pool's model
            # would not predict is quarantined.
            doubted = records[i].contributor.lower() in flagged and (
                (suggested != records[i].label and report.judged[j])
                or label_scores[i] >= policy.label.flagged_score
            )
            if report.issues[j] or doubted:
                bad[i] = True
                reasons[i].append(
                    f"{QualityReason.LABEL_ISSUE.value} label_issue_score "
                    f"{label_scores[i]:.3f} likely {suggested}"
                    + ("" if report.issues[j] else " contributor flagged")
                )
    copies = _duplicates(records, vectors, policy, bad, recheck_duplicates)

    verdicts: list[Verdict] = []
    for i, rec in enumerate(records):
        why = list(reasons[i])
        copy = copies[i]
        quarantine = bad[i]
        if copy is not None:
            strict, text = copy
            if strict:
                quarantine = True
                why.insert(0, text)
            elif rec.contributor.lower() in flagged:
                quarantine = True
                why.insert(0, text + " contributor flagged")
            else:
                why.append(text)
        if rec.pinned:
            verdicts.append(Verdict(rec.key, rec.status, 0.0, ("pinned by review",)))
            continue
        if quarantine:
            status, score = RecordStatus.QUARANTINED, 0.0
        else:
            status = RecordStatus.ACCEPTED
            score = quality_score(1.0, rec.text, junks[i].score, label_scores[i])
            why = [*junks[i].reasons, f"label_issue_score {label_scores[i]:.3f}", *why]
        verdicts.append(
            Verdict(rec.key, status, score, tuple(why), label_scores[i], junks[i].score)
        )

    keep = [i for i, v in enumerate(verdicts) if v.status == RecordStatus.ACCEPTED]
    snapshot = PoolQuality(len(keep), report=report)
    if len(keep) >= policy.junk.min_pool:
        kept_texts = [texts[i] for i in keep]
        kept_owners = [owners[i] for i in keep]
        snapshot.profile = PoolProfile(kept_texts, vectors[keep], policy.junk, owners=kept_owners)
    if report is not None:
        accepted = np.asarray([verdicts[i].status == RecordStatus.ACCEPTED for i in rows])
        lab = [str(records[i].label) for i in rows]
        snapshot.labels = LabelModel(vectors[rows], lab, report, policy.label, keep=accepted)
    return RescoreResult(verdicts, snapshot)


def _duplicates(
    records: Sequence[PoolRecord],
    vectors: npt.NDArray[np.float32],
    policy: GatePolicy,
    bad: list[bool],
    recheck: bool,
) -> list[tuple[bool, str] | None]:
    """Per record: ``(strict, reason)`` if it copies an earlier standing record, else None."""
    n = len(records)
    out: list[tuple[bool, str] | None] = [None] * n
    if not recheck:
        for i, rec in enumerate(records):
            if rec.suspect_of is not None:
                tag = QualityReason.NEAR_DUPLICATE_SUSPECT.value
                out[i] = (False, f"{tag} duplicate_of {rec.suspect_of}")
        return out
    texts = [r.text for r in records]
    owners = [r.contributor for r in records]
    # The gate judged each record against every record standing at the time (its finder), so
    # only records standing now that were not then can hide a copy: those released from
    # quarantine, by this rescore or by a reviewer (pinned). The gate's own loose matches are
    # aligned again. Comparing each record with those few is linear; with all, quadratic.
    released = [
        j for j, r in enumerate(records)
        if not bad[j] and (r.status == RecordStatus.QUARANTINED or r.pinned)
    ]  # fmt: skip
    cands = ordered_candidates(texts, vectors, owners, policy.near_duplicate, among=released)
    row_of = {r.key: j for j, r in enumerate(records)}
    standing = np.zeros(n, dtype=bool)
    first: dict[bytes, int] = {}
    for i, rec in enumerate(records):
        key = duplicate_key(rec.text)
        owner = first.get(key)
        if owner is not None:
            out[i] = (True, f"{RejectReason.DUPLICATE.value} duplicate_of {records[owner].key}")
            continue
        live = [(records[j].key, texts[j], cos) for j, cos in cands[i] if standing[j]]
        suspect = row_of.get(rec.suspect_of) if rec.suspect_of is not None else None
        if suspect is not None and suspect < i and standing[suspect]:
            live.append((records[suspect].key, texts[suspect], None))
        match = best_match(rec.text, live, policy.near_duplicate)
        if match is not None:
            out[i] = (match.strict, match.reason())
        if not bad[i] and (match is None or not match.strict):
            standing[i] = True
            first.setdefault(key, i)
    return out


def suspect_of(reasons: Iterable[str]) -> str | None:
    """The record a stored verdict loosely matched (``near_duplicate_suspect duplicate_of N``)."""
    tag = QualityReason.NEAR_DUPLICATE_SUSPECT.value + " duplicate_of "
    for reason in reasons:
        if reason.startswith(tag):
            return reason[len(tag) :].split()[0]
    return None
