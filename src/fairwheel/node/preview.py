"""A dry run of the contribution gate: what it would do with each row, and why, before anything
is signed.

:meth:`PreviewService.preview` runs the gate's steps that need no signature, in the gate's
order and with the pool's own state — the rate limit, schema and size, exact duplicates of
stored records and of earlier rows of the same upload, near duplicates, junk and outliers, label
issues — and says per row the status submission would give it (``accepted``, ``quarantined``,
``rejected``), the deciding reason and how to fix it. It writes nothing: no nonce is spent, no
record, embedding or blob is stored, the index, the near-duplicate finder and the reputations
are only read (the contributor's rate limit and flag are simulated on a copy of their account,
:meth:`~fairwheel.quality.review.ContributorReputation.copy_of`).

What it cannot know: whether the consent will be signed and valid (checked at submission), and
a rescore after the upload (the pool grown, a contributor newly flagged) may still move an
accepted record to quarantine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fairwheel.domain.records import (
    GateDecision,
    RecordStatus,
    RejectReason,
    Submission,
    duplicate_key,
)
from fairwheel.errors import SchemaError
from fairwheel.node.gate_context import StoreGateContext
from fairwheel.node.service import Service
from fairwheel.quality import gate
from fairwheel.quality.gate import QualityReason

if TYPE_CHECKING:
    from fairwheel.node.contributions import ContributionService
    from fairwheel.node.ports import NodePorts

__all__ = ["NEW_CONTRIBUTOR", "Preview", "PreviewRow", "PreviewService"]

#: The address a preview judges rows as when it is given none: a contributor with no history,
#: for whom every stored record is another contributor's.
NEW_CONTRIBUTOR = "0x" + "0" * 40
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_EMBED_CHUNK = 64
_LABELS_SHOWN = 20

#: What a preview cannot check, said with every answer.
NOTES = (
    "signature, consent expiry and nonce are checked when the rows are signed and submitted",
    "a rescore after the upload (the pool grown, a contributor newly flagged) may still "
    "quarantine an accepted record",
)


@dataclass(frozen=True)
class PreviewRow:
    """What the gate would do with one row.

    Attributes:
        index: 0-based position of the row in the upload.
        status: ``accepted``, ``quarantined`` or ``rejected``.
        reason: The deciding check's code (``too_short``, ``unknown_label``, ``duplicate``,
            ``near_duplicate``, ``junk``, ``outlier``, ``label_issue``, ``rate_limited`` …);
            ``accepted`` for an accepted row.
        detail: The gate's reason text (for an accepted row, its reasons joined by ``; ``).
        hint: How to fix the row; empty when there is nothing to fix.
        duplicate_of: The stored record that owns this text, for a copy.
        duplicate_of_row: The earlier row of this upload with the same text.
        score: The score an accepted record would get, in [0, 1]; 0.0 otherwise.
    """

    index: int
    status: str
    reason: str
    detail: str
    hint: str
    duplicate_of: int | None = None
    duplicate_of_row: int | None = None
    score: float = 0.0


@dataclass(frozen=True)
class Preview:
    """A dry run over one upload.

    Attributes:
        pool_id: The pool.
        contributor: The address the rows were judged as (lower case).
        counts: Rows per status.
        rows: One verdict per row, in order.
        notes: What the preview could not check.
    """

    pool_id: int
    contributor: str
    counts: dict[str, int]
    rows: list[PreviewRow]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Unsigned:
    """The consent of a row that is not signed yet: only its contributor is known."""

    contributor: str


class PreviewService(Service):
    """Dry runs of the contribution gate (reads the pool's gate state, writes nothing)."""

    def __init__(self, ports: NodePorts, contributions: ContributionService) -> None:
        super().__init__(ports)
        self.contributions = contributions

    def preview(
        self,
        pool_id: int,
        rows: Sequence[tuple[str, str | None]],
        contributor: str | None = None,
        *,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Preview:
        """Say per row what submitting ``rows`` to the pool would do, without submitting.

        Args:
            pool_id: The pool.
            rows: ``(text, label)`` per row, in upload order (None: no label; ``""`` is a
                label, as in a submission).
            contributor: Who would submit them; None judges them as a new contributor.
            on_progress: Called with ``(rows embedded, rows to embed)`` as embedding proceeds.

        Returns:
            The verdict, reason and fix per row, and the counts per status.

        Raises:
            NotFound: No such pool.
            SchemaError: ``contributor`` is not an address.
        """
        if contributor is not None and not _ADDRESS.fullmatch(contributor):
            raise SchemaError(f"contributor {contributor!r} is not an address (0x and 40 hex "
                              "digits)")  # fmt: skip
        who = (contributor or NEW_CONTRIBUTOR).lower()
        state = self.contributions.pool_gate(pool_id)  # NotFound for an unknown pool
        policy = state.policy
        reputation = state.reputation.copy_of(who)
        consent = _Unsigned(who)
        subs = [Submission(text, label, consent, b"") for text, label in rows]
        now = int(time.time())
        # Each row that passes the schema step takes a rate-limit slot, so rows past the
        # contributor's remaining slots are rate-limited whatever they hold: they are not
        # embedded, which bounds a preview's cost by what a submission could cost.
        candidates = [i for i, s in enumerate(subs) if gate.check_schema(s, policy) is None]
        candidates = candidates[: reputation.remaining(who, now)]
        vector_of = dict(zip(candidates, self._embed([subs[i].text for i in candidates],
                                                     on_progress), strict=True))  # fmt: skip
        ctx = StoreGateContext(self.store, pool_id, self.index(pool_id))
        ctx.prefetch_neighbours([vector_of[i] for i in candidates])
        kept_rows: dict[bytes, int] = {}  # duplicate key -> first row of this upload kept
        out: list[PreviewRow] = []
        for i, sub in enumerate(subs):
            decision = reputation.check(who, now)
            match, same_row = None, None
            judged = decision is None
            if decision is None:
                decision = gate.check_schema(sub, policy)
            if decision is None:
                decision = gate.check_exact_duplicate(sub, ctx)
            if decision is None and duplicate_key(sub.text) in kept_rows:
                same_row = kept_rows[duplicate_key(sub.text)]
                decision = GateDecision(RecordStatus.REJECTED, 0.0, (
                    f"{RejectReason.DUPLICATE.value} duplicate_of row {same_row} of this upload",
                ))  # fmt: skip
            novelty = 1.0
            if decision is None:
                decision, novelty = gate.check_near_duplicate(sub, vector_of[i], policy, ctx)
            if decision is None:
                match = state.finder.find(
                    sub.text, owner=who, neighbours=ctx.vector_neighbours(vector_of[i])
                )
                decision = gate.judge_content(
                    sub, vector_of[i], policy, match, novelty, state.quality,
                    contributor_flagged=reputation.is_flagged(who),
                    knn=ctx.knn_other(vector_of[i], who, policy.junk.knn_k),
                ).decision  # fmt: skip
            if judged:
                reputation.observe(who, decision, None, now, suspect=match is not None)
            if decision.status in (RecordStatus.ACCEPTED, RecordStatus.QUARANTINED):
                kept_rows.setdefault(duplicate_key(sub.text), i)
            out.append(_row(i, sub, decision, same_row, policy, reputation.limit(who)))
        counts: dict[str, int] = {}
        for row in out:
            counts[row.status] = counts.get(row.status, 0) + 1
        notes = list(NOTES)
        if contributor is None:
            notes.append("no contributor given: the rows were judged as a new contributor's")
        return Preview(pool_id, who, counts, out, notes)

    def _embed(
        self, texts: Sequence[str], on_progress: Callable[[int, int], None] | None
    ) -> list[np.ndarray]:
        """The texts' embeddings, in chunks so that ``on_progress`` can follow them."""
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), _EMBED_CHUNK):
            vectors.extend(self.embedder.embed(list(texts[start : start + _EMBED_CHUNK])))
            if on_progress is not None:
                on_progress(len(vectors), len(texts))
        return vectors


def _row(
    index: int,
    sub: Submission,
    decision: GateDecision,
    same_row: int | None,
    policy: gate.GatePolicy,
    limit: int,
) -> PreviewRow:
    """One row's verdict with its reason code and the fix."""
    first = decision.reasons[0] if decision.reasons else ""
    if decision.status is RecordStatus.ACCEPTED:
        tag = QualityReason.NEAR_DUPLICATE_SUSPECT.value
        suspect = next((r for r in decision.reasons if r.startswith(tag)), None)
        hint = ""
        if suspect:
            hint = (f"accepted, but close to another contributor's record ({suspect}): many "
                    "such rows flag a contributor")  # fmt: skip
        return PreviewRow(index, decision.status.value, "accepted", "; ".join(decision.reasons),
                          hint, score=decision.score)  # fmt: skip
    code = first.split(" ", 1)[0]
    return PreviewRow(
        index, decision.status.value, code, first,
        _hint(code, first, sub, decision, same_row, policy, limit),
        decision.duplicate_of, same_row,
    )  # fmt: skip


def _hint(
    code: str,
    reason: str,
    sub: Submission,
    decision: GateDecision,
    same_row: int | None,
    policy: gate.GatePolicy,
    limit: int,
) -> str:
    """How to fix a row the gate would not accept."""
    owner = decision.duplicate_of
    if code == QualityReason.RATE_LIMITED.value:
        return (f"over the {limit} submissions per hour this contributor may make now: send "
                "the rest in an hour")  # fmt: skip
    if code == RejectReason.SCHEMA.value:
        return "give the text (and the label, if any) as text"
    if code == RejectReason.TOO_LARGE.value:
        size = len(sub.text.encode()) if isinstance(sub.text, str) else 0
        return (f"the text is {size:,} bytes and the pool takes up to {policy.max_bytes:,}: "
                "shorten it or split it into several rows")  # fmt: skip
    if code == RejectReason.TOO_SHORT.value:
        return f"write at least {policy.min_chars} characters (not counting spaces at the ends)"
    if code == RejectReason.UNKNOWN_LABEL.value:
        labels = sorted(policy.labels)
        shown = ", ".join(labels[:_LABELS_SHOWN]) + (" …" if len(labels) > _LABELS_SHOWN else "")
        return f"use one of the pool's {len(labels)} labels: {shown}"
    if code == RejectReason.DUPLICATE.value and same_row is not None:
        return f"row {same_row} of this upload has the same text: keep one of them"
    if code == RejectReason.DUPLICATE.value:
        return f"record {owner} already holds this text: leave the row out"
    if code == QualityReason.NEAR_DUPLICATE.value:
        return (f"a near copy of record {owner}, another contributor's: send text of your own "
                "(copies earn nothing)")  # fmt: skip
    if code == QualityReason.NEAR_DUPLICATE_SUSPECT.value:
        return (f"close to record {owner}, another contributor's, from a flagged contributor: "
                "it would wait for a reviewer")  # fmt: skip
    if code == QualityReason.WRONG_LANGUAGE.value:
        return "the text is not in the pool's language: send text in the pool's language"
    if code == QualityReason.JUNK.value:
        return "the text does not read like the pool's text: send real sentences"
    if code == QualityReason.OUTLIER.value:
        return "far from every other record of the pool (off topic?): it would wait for a reviewer"
    if code == QualityReason.LABEL_ISSUE.value:
        likely = re.search(r"likely (\S+)", reason)
        suggestion = f" reads it as {likely.group(1)}" if likely else " doubts it"
        return f"the label looks wrong (the pool's model{suggestion}): check the label"
    return ""
