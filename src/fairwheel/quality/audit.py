"""The offline quality audit of a labelled text CSV: no chain, no node — embed, score, write.

Rows are judged in file order, as if each row were a submission arriving in that order (so an
earlier row owns its content), with the gate's checks and thresholds:

1. schema: empty, too short or too large text → ``rejected``;
2. exact duplicates after normalisation (case, whitespace, Unicode) → ``rejected``,
   ``duplicate_of`` the first row;
3. near duplicates (MinHash candidates, typo-tolerant word alignment) → strict matches
   ``rejected`` with ``duplicate_of``; loose ones stay accepted with a
   ``near_duplicate_suspect`` reason. Rows of one contributor are not compared with each other
   when a contributor column is given;
4. junk and wrong language → ``rejected`` (fixed rules, or mostly words no other row uses);
   text in unusual characters but known words, and outliers in embedding space →
   ``quarantined`` (judged leave-one-out against the other rows);
5. label issues by confident learning on out-of-sample probabilities → ``quarantined``. The
   audit's policy (:data:`AUDIT_POLICY`) goes further than the gate, which sees no texts: the
   embedding and TF-IDF logistic regressions each take the regularisation with the lowest
   cross-validated log-loss, their blend the weight with the lowest log-loss, and the rows of
   lowest self-confidence are flagged, as many as cleanlab's calibrated confident joint
   estimates are wrong.

Every row gets a ``label_issue_score`` (``1 - p(given label)``; higher means the label is more
likely wrong): out of sample for rows that reach step 5, from the model fitted on the kept rows
for the others.

Small or degenerate files (one row, ten rows, a single label) get every check their size allows:
:func:`run_audit` returns the rows together with a :class:`CheckRun` per check saying whether it
ran, ran in part, or was skipped and how much more data it needs (``fairwheel quality audit``
prints them). Only a file that cannot be read at all is an error (:class:`~fairwheel.errors.
SchemaError`).
"""

from __future__ import annotations

import csv
import dataclasses
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from fairwheel.domain.records import RecordStatus, RejectReason, duplicate_key
from fairwheel.errors import SchemaError
from fairwheel.quality.candidates import ordered_candidates
from fairwheel.quality.gate import GatePolicy, QualityReason, quality_score
from fairwheel.quality.junk import JunkVerdict, PoolProfile, judge_standalone
from fairwheel.quality.label_issues import AUDIT_LABEL_POLICY, LabelModel, label_issues
from fairwheel.quality.near_duplicate import best_match

COLUMNS = ("row", "status", "score", "label_issue_score", "duplicate_of", "reasons")

#: The gate's thresholds with the audit's label check (:data:`~fairwheel.quality.label_issues.
#: AUDIT_LABEL_POLICY`): the default of :func:`run_audit` and ``fairwheel quality audit``.
AUDIT_POLICY = GatePolicy(label=AUDIT_LABEL_POLICY)

#: The checks of the audit, in order (the ``name`` of a :class:`CheckRun`).
CHECKS = ("schema", "exact_duplicate", "near_duplicate", "junk_rules", "junk_pool", "label_issues")


class _Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class AuditRow:
    """The audit's verdict on one input row.

    Attributes:
        row: 0-based index of the data row (the header is not counted).
        status: ``accepted``, ``quarantined`` or ``rejected``.
        score: In [0, 1] for accepted rows, 0.0 otherwise.
        label_issue_score: ``1 - p(given label)``; 0.0 for unlabelled rows.
        duplicate_of: The earlier row this one copies, or None.
        reasons: Machine-readable reasons (the first word of each names the check).
    """

    row: int
    status: str
    score: float
    label_issue_score: float
    duplicate_of: int | None
    reasons: tuple[str, ...]

    def as_csv(self) -> list[str]:
        return [
            str(self.row),
            self.status,
            f"{self.score:.4f}",
            f"{self.label_issue_score:.4f}",
            "" if self.duplicate_of is None else str(self.duplicate_of),
            "; ".join(self.reasons),
        ]


@dataclass(frozen=True)
class CheckRun:
    """Whether one check of the audit ran on this input, and if not, what it lacked.

    Attributes:
        name: One of :data:`CHECKS`.
        status: ``ran`` (on every row it applies to), ``partial`` (on some rows, or without
            its flags) or ``skipped`` (too little data).
        detail: One line for people: what ran, or what is missing.
        needs: How many ``unit`` the check needs to run fully (None: no size limit).
        has: How many it had (None where ``needs`` is None).
        unit: What ``needs`` and ``has`` count: ``rows`` unless said otherwise.
    """

    name: str
    status: str
    detail: str
    needs: int | None = None
    has: int | None = None
    unit: str = "rows"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form (``needs`` and ``has`` only when the check has a size limit)."""
        out: dict[str, object] = {"check": self.name, "status": self.status, "detail": self.detail}
        if self.needs is not None:
            out |= {"needs": self.needs, "has": self.has, "unit": self.unit}
        return out


@dataclass(frozen=True)
class AuditResult:
    """The audit of a file: one :class:`AuditRow` per input row, one :class:`CheckRun` per check.

    Attributes:
        rows: The verdicts, in input order.
        checks: The checks in :data:`CHECKS` order.
    """

    rows: list[AuditRow]
    checks: list[CheckRun]

    @property
    def not_run(self) -> list[CheckRun]:
        """The checks that were skipped or ran only in part."""
        return [c for c in self.checks if c.status != "ran"]


@dataclass
class _State:
    status: RecordStatus = RecordStatus.ACCEPTED
    duplicate_of: int | None = None
    junk_score: float = 0.0
    label_score: float = 0.0


def _top1_similarity(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Each row's highest cosine to another row (-1.0 for a single row)."""
    out = np.full(len(vectors), -1.0)
    for start in range(0, len(vectors), 512):
        sims = vectors[start : start + 512] @ vectors.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        if vectors.shape[0] > 1:
            out[start : start + len(sims)] = sims.max(axis=1)
    return out


def audit(
    texts: Sequence[str],
    labels: Sequence[str | None],
    embedder: _Embedder,
    policy: GatePolicy | None = None,
    contributors: Sequence[str] | None = None,
) -> list[AuditRow]:
    """Audit labelled texts in order; one :class:`AuditRow` per input row.

    The rows of :func:`run_audit`, which takes the same arguments and also says which checks
    ran; any number of rows, including none, and any number of classes, including one, gets
    an answer.

    Raises:
        SchemaError: ``texts``, ``labels`` and ``contributors`` differ in length.
    """
    return run_audit(texts, labels, embedder, policy, contributors).rows


def run_audit(
    texts: Sequence[str],
    labels: Sequence[str | None],
    embedder: _Embedder,
    policy: GatePolicy | None = None,
    contributors: Sequence[str] | None = None,
) -> AuditResult:
    """Audit labelled texts in order, and say which checks ran and which lacked data.

    Args:
        texts: The texts.
        labels: Their labels (None or empty for unlabelled rows).
        embedder: Anything with ``embed(list[str]) -> (n, d)`` unit vectors.
        policy: Thresholds (:data:`AUDIT_POLICY` if None).
        contributors: Optional owner per row: rows of one owner are not near duplicates of
            each other (exact copies still are).

    Returns:
        The rows and a :class:`CheckRun` per check of :data:`CHECKS`.

    Raises:
        SchemaError: ``texts``, ``labels`` and ``contributors`` differ in length.
    """
    policy = policy or AUDIT_POLICY
    n = len(texts)
    if len(labels) != n or (contributors is not None and len(contributors) != n):
        raise SchemaError("texts, labels and contributors must have the same length")
    labs = [lab if lab else None for lab in labels]
    state = [_State() for _ in range(n)]
    reasons: list[list[str]] = [[] for _ in range(n)]

    def reject(i: int, reason: str, dup: int | None = None) -> None:
        state[i].status, state[i].duplicate_of = RecordStatus.REJECTED, dup
        reasons[i].append(reason)

    first: dict[bytes, int] = {}
    for i, text in enumerate(texts):
        if len(text.encode()) > policy.max_bytes:
            reject(i, f"{RejectReason.TOO_LARGE.value} over {policy.max_bytes} bytes")
        elif len(text.strip()) < policy.min_chars:
            reject(i, f"{RejectReason.TOO_SHORT.value} under {policy.min_chars} characters")
        elif (owner := first.setdefault(duplicate_key(text), i)) != i:
            reject(i, f"{RejectReason.DUPLICATE.value} duplicate_of {owner}", owner)

    live = [i for i in range(n) if state[i].status == RecordStatus.ACCEPTED]
    vectors = np.zeros((n, 0), dtype=np.float32)
    if live:
        embedded = np.asarray(embedder.embed([texts[i] for i in live]), dtype=np.float32)
        vectors = np.zeros((n, embedded.shape[1]), dtype=np.float32)
        vectors[live] = embedded

    live_vectors = vectors[live] if live else None
    owners = [contributors[i] for i in live] if contributors is not None else None
    pool = ordered_candidates([texts[i] for i in live], live_vectors, owners, policy.near_duplicate)
    kept = np.zeros(len(live), dtype=bool)
    for pos, i in enumerate(live):
        cands = [(live[j], texts[live[j]], cos) for j, cos in pool[pos] if kept[j]]
        match = best_match(texts[i], cands, policy.near_duplicate)
        if match is not None and match.strict:
            reject(i, match.reason(), int(match.owner))  # type: ignore[call-overload]
            continue
        if match is not None:
            reasons[i].append(match.reason())
        kept[pos] = True

    checks = [
        CheckRun("schema", "ran", f"size limits on {n} rows"),
        _size_check("exact_duplicate", n, 2, "rows"),
        _size_check("near_duplicate", len(live), 2, "rows that are not exact duplicates"),
    ]
    checks += _judge_junk(texts, vectors, policy, state, reasons, contributors)
    checks.append(_judge_labels(texts, labs, vectors, policy, state, reasons))

    accepted = [i for i in range(n) if state[i].status == RecordStatus.ACCEPTED]
    top1 = np.full(n, -1.0)
    if accepted:
        top1[accepted] = _top1_similarity(vectors[accepted])
    rows = []
    for i in range(n):
        st = state[i]
        score = 0.0
        if st.status == RecordStatus.ACCEPTED:
            novelty = 1.0 - max(0.0, float(top1[i]))
            score = quality_score(novelty, texts[i], st.junk_score, st.label_score)
        rows.append(
            AuditRow(i, st.status.value, score, round(st.label_score, 4), st.duplicate_of,
                     tuple(reasons[i]))
        )  # fmt: skip
    return AuditResult(rows, checks)


def _size_check(name: str, has: int, needs: int, what: str) -> CheckRun:
    """A check that runs on ``needs`` rows or more and has nothing to do below."""
    if has >= needs:
        return CheckRun(name, "ran", f"on {has} {what}")
    return CheckRun(name, "skipped", f"needs {needs} {what}, has {has}", needs, has)


def _judge_junk(
    texts: Sequence[str],
    vectors: npt.NDArray[np.float32],
    policy: GatePolicy,
    state: list[_State],
    reasons: list[list[str]],
    contributors: Sequence[str] | None = None,
) -> list[CheckRun]:
    """Step 4, in two passes: the profile is rebuilt without the junk the first pass found.

    With contributors, each row is judged against the other contributors' rows only.

    Returns:
        The runs of ``junk_rules`` (fixed rules, any size) and ``junk_pool`` (the pool's
        character model, vocabulary and embedding outliers: ``junk.min_pool`` rows or more).
    """
    live = [i for i, s in enumerate(state) if s.status == RecordStatus.ACCEPTED]
    what = "rows that are not duplicates"
    rules = CheckRun("junk_rules", "ran", f"fixed rules on {len(live)} {what}")
    if not live:
        rules = CheckRun("junk_rules", "skipped", f"needs 1 of the {what}, has 0", 1, 0)
    pooled = _size_check("junk_pool", len(live), policy.junk.min_pool, what)
    if pooled.status == "skipped":
        pooled = dataclasses.replace(
            pooled, detail=f"language, character model and outliers: {pooled.detail}"
        )

    def owners(rows: list[int]) -> list[str | None] | None:
        return None if contributors is None else [contributors[i] for i in rows]

    if len(live) < policy.junk.min_pool:
        for i in live:
            _apply_junk(i, judge_standalone(texts[i], policy.junk), state, reasons)
        return [rules, pooled]
    profile = PoolProfile([texts[i] for i in live], vectors[live], policy.junk, owners=owners(live))
    verdicts = profile.judge_members([texts[i] for i in live])
    clean = [i for i, v in zip(live, verdicts, strict=True) if v.kind is None]
    if len(clean) >= policy.junk.min_pool and len(clean) < len(live):
        # Second pass: the junk found first no longer shapes the reference distributions.
        profile = PoolProfile(
            [texts[i] for i in clean], vectors[clean], policy.junk, owners=owners(clean)
        )
        verdicts = profile.judge_members([texts[i] for i in clean])
        again = dict(zip(clean, verdicts, strict=True))
        for i in live:
            if i not in again:
                who = contributors[i] if contributors is not None else None
                again[i] = profile.judge(texts[i], vectors[i], owner=who)
        verdicts = [again[i] for i in live]
    for i, v in zip(live, verdicts, strict=True):
        _apply_junk(i, v, state, reasons)
    return [rules, pooled]


def _apply_junk(
    i: int, verdict: JunkVerdict, state: list[_State], reasons: list[list[str]]
) -> None:
    state[i].junk_score = verdict.score
    if verdict.kind is None:
        return
    state[i].status = RecordStatus.REJECTED if verdict.reject else RecordStatus.QUARANTINED
    reasons[i][:0] = verdict.reasons  # the deciding reason first


def _judge_labels(
    texts: Sequence[str],
    labels: Sequence[str | None],
    vectors: npt.NDArray[np.float32],
    policy: GatePolicy,
    state: list[_State],
    reasons: list[list[str]],
) -> CheckRun:
    """Step 5: out of sample on the kept labelled rows; the pool's model for the others.

    Returns:
        The run of ``label_issues``: skipped under ``label.min_pool`` kept labelled rows or
        with one class; partial when some classes have under ``label.min_per_class`` rows
        (their rows get a score but no flag).
    """
    lp = policy.label
    kept = [i for i, s in enumerate(state) if s.status == RecordStatus.ACCEPTED and labels[i]]
    what = "labelled rows that pass the earlier checks"
    counts = Counter(str(labels[i]) for i in kept)
    if len(kept) < lp.min_pool:
        for i in kept:
            reasons[i].append(
                f"label unchecked: too few labelled rows ({len(kept)}, needs {lp.min_pool})"
            )
        return _size_check("label_issues", len(kept), lp.min_pool, what)
    if len(counts) < 2:
        (only,) = counts
        for i in kept:
            reasons[i].append("label unchecked: one class only")
        detail = f"needs 2 classes, has 1 ({only!r} on all {len(kept)} {what})"
        return CheckRun("label_issues", "skipped", detail, 2, 1, "classes")
    lab = [str(labels[i]) for i in kept]
    report = label_issues(vectors[kept], lab, lp, texts=[texts[i] for i in kept])
    for j, i in enumerate(kept):
        state[i].label_score = float(report.scores[j])
        if not report.judged[j]:
            reasons[i].append(
                f"label unchecked: too few rows of this class ({counts[lab[j]]}, "
                f"needs {lp.min_per_class})"
            )
        elif report.issues[j]:
            state[i].status = RecordStatus.QUARANTINED
            reasons[i].insert(
                0,
                f"{QualityReason.LABEL_ISSUE.value} label_issue_score "
                f"{report.scores[j]:.3f} likely {report.suggested(j)}",
            )
    kept_set = set(kept)
    others = [
        i for i, s in enumerate(state)
        if labels[i] and i not in kept_set and vectors.shape[1] and vectors[i].any()
    ]  # fmt: skip
    model = LabelModel(vectors[kept], lab, report, lp)
    if others and model.fitted:
        col = {c: k for k, c in enumerate(model.classes)}
        probs = model.probs(vectors[others])
        for row, i in zip(probs, others, strict=True):
            if labels[i] in col:
                state[i].label_score = float(np.clip(1.0 - row[col[str(labels[i])]], 0, 1))
    return _label_run(counts, lp.min_per_class)


def _label_run(counts: Counter[str], min_per_class: int) -> CheckRun:
    """The run of ``label_issues`` on two or more classes, by the size of each class."""
    small = sorted((c for c in counts if counts[c] < min_per_class), key=lambda c: counts[c])
    big = len(counts) - len(small)
    sizes = ", ".join(f"{c!r} {counts[c]}" for c in small[:5]) + (", ..." if len(small) > 5 else "")
    if not small:
        return CheckRun("label_issues", "ran", f"on {sum(counts.values())} rows in {big} classes")
    if big < 2:
        detail = (
            f"scores only: flagging needs 2 classes of {min_per_class}+ rows, has {big} "
            f"(smaller classes: {sizes})"
        )
        return CheckRun(
            "label_issues", "partial", detail, 2, big, f"classes of {min_per_class}+ rows"
        )
    detail = (
        f"flags in {big} classes; {len(small)} classes under {min_per_class} rows "
        f"get scores only ({sizes})"
    )
    least = counts[small[0]]
    return CheckRun("label_issues", "partial", detail, min_per_class, least, "rows per class")


def read_csv(path: Path, text_col: str, label_col: str | None) -> tuple[list[str], list[str]]:
    """Read the text and label columns of a CSV (UTF-8, with a header row).

    A header with no data rows is an empty audit, not an error.

    Raises:
        SchemaError: The file is unreadable, not UTF-8 or not CSV, has no header row, or
            lacks a column.
    """
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if not columns:
                raise SchemaError(f"{path} is empty: it needs a header row naming its columns")
            wanted = [text_col] + ([label_col] if label_col else [])
            missing = [c for c in wanted if c not in columns]
            if missing:
                hint = " (--label-col '' audits without labels)" if label_col in missing else ""
                raise SchemaError(f"{path} has no column(s) {missing}; it has {columns}{hint}")
            texts, labels = [], []
            for record in reader:
                texts.append(record[text_col] or "")
                labels.append((record[label_col] or "") if label_col else "")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    except csv.Error as exc:
        raise SchemaError(f"{path} is not a readable CSV: {exc}") from exc
    except OSError as exc:
        raise SchemaError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    return texts, labels


def write_report(rows: Sequence[AuditRow], out: Path) -> None:
    """Write the audit as CSV: ``row, status, score, label_issue_score, duplicate_of, reasons``."""
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(row.as_csv())


def summary(
    rows: Sequence[AuditRow], checks: Sequence[CheckRun] | None = None
) -> dict[str, object]:
    """Counts per status and per reason (first word of each reason); with ``checks``, the
    checks that ran and those skipped or run in part, with what they lacked."""
    statuses = Counter(r.status for r in rows)
    by = Counter(r.reasons[0].split()[0] for r in rows if r.status != "accepted" and r.reasons)
    out: dict[str, object] = {
        "rows": len(rows),
        "status": dict(statuses),
        "not_accepted_by": dict(by),
    }
    if checks is not None:
        out["checks_ran"] = [c.name for c in checks if c.status == "ran"]
        out["checks_not_run"] = [c.as_dict() for c in checks if c.status != "ran"]
    return out
