"""Each contributor's reputation: rate limits, and the rule that flags a contributor.

* :class:`ContributorReputation` — per-contributor counts, rate limits, and the rule that flags a
  contributor whose share of rejected, quarantined or suspect records crosses a threshold
  (honest mistakes — a label the pool does not know, a text too short or too large — aside);
  the evidence is kept for a slash.

Pure, in memory: the node replays the stored history into it and stores what comes out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from fairwheel.domain.records import GateDecision, RecordStatus, RejectReason
from fairwheel.quality.gate import QualityReason


@dataclass(frozen=True)
class ReputationPolicy:
    """When a contributor is rate-limited and flagged (chosen by measurement, docs/quality.md).

    Attributes:
        window_s: Length of the rate-limit window, seconds.
        max_per_window: Submissions anyone may make per window.
        limited_per_window: Submissions a flagged contributor may make per window.
        min_records: Judged submissions before the near-duplicate share can flag.
        min_bad_records: Judged submissions before the bad share can flag. Lower than
            ``min_records``: honest contributors' bad share is about 0.01 (a binomial tail of
            5 in 10 is ~1e-7), while their near-duplicate share reaches 0.35 on banking77.
        max_bad_share: Flag at this share of rejected or quarantined submissions. Neither
            rate-limit rejections nor honest mistakes (:data:`HONEST_MISTAKES`: a text too
            short or too large, a label the pool does not know, a field that is not text)
            count, in the share or in the submissions it is a share of.
        max_suspect_share: Flag at this share of near-duplicate submissions (strict or loose).
    """

    window_s: int = 3600
    max_per_window: int = 1000
    limited_per_window: int = 10
    min_records: int = 20
    min_bad_records: int = 10
    max_bad_share: float = 0.5
    max_suspect_share: float = 0.6


@dataclass(frozen=True)
class Evidence:
    """One submission kept as evidence for a slash proposal."""

    record: Hashable
    time: int
    status: str
    reason: str


#: Rejections for mistakes an honest uploader makes (a CSV with another label set, an empty
#: or oversized cell): the schema step's reasons. They say nothing about intent and cost the
#: node no embedding, so they are not evidence and never flag anyone; copies, near copies,
#: junk and label issues still are.
HONEST_MISTAKES = frozenset(
    r.value
    for r in (
        RejectReason.SCHEMA,
        RejectReason.TOO_LARGE,
        RejectReason.TOO_SHORT,
        RejectReason.UNKNOWN_LABEL,
    )
)


def is_honest_mistake(decision: GateDecision) -> bool:
    """Whether ``decision`` rejects a submission for an honest mistake (:data:`HONEST_MISTAKES`)."""
    reason = decision.reasons[0] if decision.reasons else ""
    return decision.status is RecordStatus.REJECTED and reason.split(" ", 1)[0] in HONEST_MISTAKES


@dataclass
class _Account:
    total: int = 0
    bad: int = 0
    suspect: int = 0
    mistakes: int = 0
    recent: deque[int] = field(default_factory=deque)
    forgiven: deque[int] = field(default_factory=deque)  # mistakes refunded from ``recent``
    evidence: list[Evidence] = field(default_factory=list)


def _trim(times: deque[int], now: int, window_s: int) -> None:
    """Drop the times that fell out of the window ending at ``now``."""
    while times and times[0] <= now - window_s:
        times.popleft()


class ContributorReputation:
    """Counts each contributor's verdicts; rate-limits and flags (pure, in memory).

    Rebuild it from the store with :meth:`replay` over the stored history (oldest first).

    Honest mistakes (:func:`is_honest_mistake`) are counted apart (:meth:`mistakes`): not in
    the shares that flag, not as evidence, and refunded from the rate-limit window up to the
    contributor's own limit per window — so a file with the wrong label column neither flags
    its uploader nor uses up the hour for the corrected file, while a flood of malformed
    submissions is still bounded (at most twice the limit per window).

    Args:
        policy: The thresholds.
    """

    def __init__(self, policy: ReputationPolicy | None = None) -> None:
        self.policy = policy or ReputationPolicy()
        self._accounts: dict[str, _Account] = {}

    def _account(self, contributor: str) -> _Account:
        return self._accounts.setdefault(contributor.lower(), _Account())

    def _peek(self, contributor: str) -> _Account:
        """The contributor's account for reading: an unknown one is not created."""
        return self._accounts.get(contributor.lower()) or _Account()

    def limit(self, contributor: str) -> int:
        """Submissions the contributor may make per window (lower once flagged)."""
        if self.is_flagged(contributor):
            return self.policy.limited_per_window
        return self.policy.max_per_window

    def remaining(self, contributor: str, now: int) -> int:
        """Submissions the contributor may still make in the window ending at ``now``; reads
        only (a dry run asks this without counting anything)."""
        start = now - self.policy.window_s
        used = sum(1 for t in self._peek(contributor).recent if t > start)
        return max(0, self.limit(contributor) - used)

    def check(self, contributor: str, now: int) -> GateDecision | None:
        """The rate-limit step: a rejection if the contributor is over their limit, else None.

        Call it once per submission, before the content checks; it counts the submission
        (:meth:`observe` refunds it if the verdict is an honest mistake).
        """
        acc = self._account(contributor)
        _trim(acc.recent, now, self.policy.window_s)
        limit = self.limit(contributor)
        if len(acc.recent) >= limit:
            reason = f"{QualityReason.RATE_LIMITED.value} {limit} per {self.policy.window_s} s" + (
                " (flagged)" if self.is_flagged(contributor) else ""
            )
            return GateDecision(RecordStatus.REJECTED, 0.0, (reason,))
        acc.recent.append(now)
        return None

    def observe(
        self,
        contributor: str,
        decision: GateDecision,
        record: Hashable = None,
        now: int = 0,
        suspect: bool = False,
    ) -> None:
        """Count one judged submission (not rate-limit rejections: those are not evidence).

        An honest mistake (:func:`is_honest_mistake`) is counted only in :meth:`mistakes`, and
        the rate-limit slot :meth:`check` took for it at ``now`` is given back while the
        contributor's refunds in the window stay within their limit.

        Args:
            contributor: Who sent it.
            decision: The gate's decision.
            record: Its record id (kept in the evidence).
            now: Unix time of the decision (the same as the :meth:`check` before it).
            suspect: The gate found a loose near-duplicate match.
        """
        reason = decision.reasons[0] if decision.reasons else ""
        if reason.startswith(QualityReason.RATE_LIMITED.value):
            return
        if is_honest_mistake(decision):
            self._forgive(contributor, now)
            return
        if suspect:  # the loose match is the evidence, not the accepted verdict's first reason
            tag = QualityReason.NEAR_DUPLICATE_SUSPECT.value
            reason = next((r for r in decision.reasons if r.startswith(tag)), reason)
        acc = self._account(contributor)
        acc.total += 1
        bad = decision.status in (RecordStatus.REJECTED, RecordStatus.QUARANTINED)
        near = suspect or reason.startswith(QualityReason.NEAR_DUPLICATE.value)
        acc.bad += bad
        acc.suspect += near
        if bad or near:
            acc.evidence.append(Evidence(record, now, decision.status.value, reason))

    def replay(
        self,
        contributor: str,
        decision: GateDecision,
        record: Hashable = None,
        now: int = 0,
        suspect: bool = False,
    ) -> None:
        """Rebuild from stored history, oldest first: what :meth:`check` and :meth:`observe`
        did for a submission that passed the consent check."""
        reason = decision.reasons[0] if decision.reasons else ""
        if reason.startswith(QualityReason.RATE_LIMITED.value):
            return
        acc = self._account(contributor)
        _trim(acc.recent, now, self.policy.window_s)
        acc.recent.append(now)
        self.observe(contributor, decision, record, now, suspect)

    def _forgive(self, contributor: str, now: int) -> None:
        """Count an honest mistake; refund its rate-limit slot within the refund allowance."""
        acc = self._account(contributor)
        acc.mistakes += 1
        _trim(acc.forgiven, now, self.policy.window_s)
        if acc.recent and acc.recent[-1] == now and len(acc.forgiven) < self.limit(contributor):
            acc.recent.pop()
            acc.forgiven.append(now)

    def mistakes(self, contributor: str) -> int:
        """Submissions rejected for an honest mistake (not in :meth:`shares`)."""
        return self._peek(contributor).mistakes

    def copy_of(self, contributor: str) -> ContributorReputation:
        """A new reputation holding a copy of this contributor's account alone: a dry run
        calls :meth:`check` and :meth:`observe` on it exactly as the gate would, and this
        reputation is left as it was."""
        acc = self._peek(contributor)
        other = ContributorReputation(self.policy)
        other._accounts[contributor.lower()] = _Account(
            acc.total, acc.bad, acc.suspect, acc.mistakes, deque(acc.recent),
            deque(acc.forgiven), list(acc.evidence),
        )  # fmt: skip
        return other

    def revise(
        self,
        contributor: str,
        before: RecordStatus,
        after: RecordStatus,
        record: Hashable = None,
        now: int = 0,
        reason: str = "",
    ) -> None:
        """Account for a rescoring that moved a record between accepted and quarantined; a
        record newly quarantined is kept as evidence."""
        acc = self._account(contributor)
        was = before in (RecordStatus.REJECTED, RecordStatus.QUARANTINED)
        now_bad = after in (RecordStatus.REJECTED, RecordStatus.QUARANTINED)
        acc.bad += int(now_bad) - int(was)
        if now_bad and not was:
            acc.evidence.append(Evidence(record, now, after.value, reason))

    def shares(self, contributor: str) -> tuple[int, float, float]:
        """``(judged submissions, bad share, suspect share)``; honest mistakes are not judged
        submissions here (:meth:`mistakes` counts them)."""
        acc = self._peek(contributor)
        if not acc.total:
            return 0, 0.0, 0.0
        return acc.total, acc.bad / acc.total, acc.suspect / acc.total

    def is_flagged(self, contributor: str) -> bool:
        """Whether the contributor crossed a threshold (after enough judged submissions)."""
        total, bad, suspect = self.shares(contributor)
        p = self.policy
        return (total >= p.min_bad_records and bad >= p.max_bad_share) or (
            total >= p.min_records and suspect >= p.max_suspect_share
        )

    def flagged(self) -> set[str]:
        """All flagged contributors (lower-case addresses)."""
        return {c for c in self._accounts if self.is_flagged(c)}

    def evidence(self, contributor: str) -> list[Evidence]:
        """The contributor's rejected, quarantined and suspect submissions, oldest first."""
        return list(self._peek(contributor).evidence)

    def slash_report(self) -> dict[str, dict[str, object]]:
        """Per flagged contributor: counts, shares and evidence, for a slash proposal."""
        out: dict[str, dict[str, object]] = {}
        for c in sorted(self.flagged()):
            total, bad, suspect = self.shares(c)
            out[c] = {
                "submissions": total,
                "bad_share": round(bad, 4),
                "suspect_share": round(suspect, 4),
                "evidence": [e.__dict__ for e in self.evidence(c)],
            }
        return out
