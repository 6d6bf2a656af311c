"""A labeling job: open with a bounty, hand out tasks, take answers, close and pay.

The life of a job::

    job = LabelingJob.open("job-1", items, ["cat", "dog"], overlap=3, budget=10**18,
                           gold={"g1": "cat", ...}, gold_share=0.1, seed=secret)
    tasks = job.take(worker)            # Task(task_id, item): gold mixed in, unmarked
    job.submit(worker, task_id, "dog")  # validated: assigned to worker, once, label in set
    result = job.close()                # labels, confidences, accuracies, payout, slashes

Task ids are ``sha256(seed, worker, item)`` truncated: unlinkable across
labelers without the seed, so labelers comparing notes cannot tell that an item
is shown to unusually many of them (as gold items are). Keep the seed secret
(the default is random).

The job is a capability: it does not check stakes, move tokens or touch the
pool; the node does (see ``docs/labeling.md``). Its whole state is
JSON-serialisable (:meth:`LabelingJob.to_dict`, :meth:`LabelingJob.from_dict`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fairwheel.domain.records import canonical_json
from fairwheel.errors import Conflict, InvalidInput, NotFound, SchemaError
from fairwheel.labeling.assign import Planner
from fairwheel.labeling.pay import Payout, split_bounty, to_ppm

OPEN = "open"
CLOSED = "closed"


@dataclass(frozen=True)
class Task:
    """One task handed to a labeler: the id to answer with, and the item to show."""

    task_id: str
    item: str


@dataclass(frozen=True)
class ItemLabel:
    """The aggregated label of one item.

    Attributes:
        label: The most probable class.
        confidence: Its posterior probability.
        answers: Answers the item got.
        confirmed: ``confidence >= min_confidence``: fit to flow back into the
            pool (and out of quarantine).
    """

    label: str
    confidence: float
    answers: int
    confirmed: bool


@dataclass(frozen=True)
class WorkerReport:
    """What the job concluded about one labeler.

    Attributes:
        answers: Accepted answers (gold included).
        accuracy: Dawid–Skene estimate ``sum_k pi_k conf[k, k]``.
        gold_answers: Answers on gold items.
        gold_correct: Of which right.
        combined_accuracy: ``(non-gold answers * accuracy + gold_correct) / answers``:
            the DS estimate and the gold accuracy weighted by their answers.
        chance: Accuracy of a labeler with the same answer distribution answering blindly.
        kappa: ``(combined_accuracy - chance) / (1 - chance)``.
        threshold: ``chance + min_kappa * (1 - chance)``: paid iff combined >= threshold.
        paid: Token base units earned.
        slashed: Whether a slash proposal was made (confidently below the threshold).
    """

    answers: int
    accuracy: float
    gold_answers: int
    gold_correct: int
    combined_accuracy: float
    chance: float
    kappa: float
    threshold: float
    paid: int
    slashed: bool


@dataclass(frozen=True)
class JobResult:
    """A closed job's outcome.

    Attributes:
        method: Aggregation method (``"ds"`` or ``"mv"``).
        labels: Item -> :class:`ItemLabel`, for items that got answers.
        unlabelled: Items that got no answer.
        workers: Labeler -> :class:`WorkerReport`.
        payout: The bounty split and slash proposals.
        credit: Item -> {labeler: share}, the paid labelers whose answer matched
            the label, shares proportional to combined accuracy and summing to 1:
            how the item's later usage earnings for labelers are divided.
        iterations: EM iterations.
        converged: Whether EM converged.
    """

    method: str
    labels: dict[str, ItemLabel]
    unlabelled: list[str]
    workers: dict[str, WorkerReport]
    payout: Payout
    credit: dict[str, dict[str, float]]
    iterations: int
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "method": self.method,
            "labels": {i: asdict(v) for i, v in self.labels.items()},
            "unlabelled": self.unlabelled,
            "workers": {w: asdict(v) for w, v in self.workers.items()},
            "payout": self.payout.to_dict(),
            "credit": self.credit,
            "iterations": self.iterations,
            "converged": self.converged,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            method=data["method"],
            labels={i: ItemLabel(**v) for i, v in data["labels"].items()},
            unlabelled=list(data["unlabelled"]),
            workers={w: WorkerReport(**v) for w, v in data["workers"].items()},
            payout=Payout.from_dict(data["payout"]),
            credit={i: dict(c) for i, c in data["credit"].items()},
            iterations=int(data["iterations"]),
            converged=bool(data["converged"]),
        )


def _unit(value: Any, name: str, hi_open: bool = False) -> float:
    v = float(value)
    if not (0.0 <= v < 1.0 if hi_open else 0.0 <= v <= 1.0):
        raise SchemaError(f"{name} out of range", **{name: value})
    return v


class LabelingJob:
    """A paid labeling job (see the module docstring). Build with :meth:`open`."""

    def __init__(self, config: dict[str, Any], planner: Planner) -> None:
        """Use :meth:`open` or :meth:`from_dict`."""
        self.config = config
        self.planner = planner
        self.status = OPEN
        self.issued: dict[str, tuple[str, str]] = {}  # task id -> (worker, item)
        self.answers: dict[str, str] = {}  # task id -> label, in submission order
        self.result: JobResult | None = None

    @classmethod
    def open(
        cls,
        job_id: str,
        items: Sequence[str],
        labels: Sequence[str],
        *,
        overlap: int,
        budget: int,
        gold: Mapping[str, str] | None = None,
        gold_share: float = 0.0,
        seed: int | None = None,
        method: str = "ds",
        min_kappa: float = 0.25,
        min_confidence: float = 0.9,
        min_answers_to_slash: int = 10,
        slash_z: float = 2.326,
    ) -> LabelingJob:
        """Open a job.

        Args:
            job_id: The job's id (goes into slash evidence).
            items: Ids of the items (records) to label.
            labels: The label set (at least two distinct labels; its order
                breaks ties).
            overlap: Labelers per item.
            budget: The escrowed bounty in token base units.
            gold: Gold item id -> known label.
            gold_share: Share of each labeler's tasks that are gold, in [0, 1).
            seed: Secret seed of task ids and assignment (default: random).
            method: ``"ds"`` (Dawid–Skene) or ``"mv"`` (majority vote).
            min_kappa: A labeler is paid iff their chance-corrected accuracy
                reaches this (0..1).
            min_confidence: Labels at least this probable are ``confirmed``.
            min_answers_to_slash: Labelers below the bar with fewer answers get
                no slash proposal, only no pay.
            slash_z: A slash proposal needs the Wilson upper bound of the
                labeler's accuracy at this normal quantile to be under the bar.

        Returns:
            The open job; the price per answer is ``budget // planned answers``.

        Raises:
            SchemaError: On any invalid argument.
        """
        gold = dict(gold or {})
        labels = list(labels)
        if not isinstance(job_id, str) or not job_id:
            raise SchemaError("job_id must be a non-empty string")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise SchemaError("labels must be at least two distinct labels")
        if not all(isinstance(x, str) and x for x in labels):
            raise SchemaError("labels must be non-empty strings")
        if any(v not in labels for v in gold.values()):
            raise SchemaError("a gold label is not in the label set")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise SchemaError("budget must be an int >= 0", budget=repr(budget))
        if method not in ("ds", "mv"):
            raise SchemaError("method must be 'ds' or 'mv'", method=method)
        if isinstance(min_answers_to_slash, bool) or not isinstance(min_answers_to_slash, int):
            raise SchemaError("min_answers_to_slash must be an int")
        seed = secrets.randbits(63) if seed is None else seed
        planner = Planner(items, overlap, gold=list(gold), gold_share=gold_share, seed=seed)
        planned = len(planner.items) * overlap + planner.planned_gold()
        config = {
            "job_id": job_id,
            "labels": labels,
            "gold": gold,
            "budget": budget,
            "rate": budget // planned if planned else 0,
            "method": method,
            "min_kappa": _unit(min_kappa, "min_kappa"),
            "min_confidence": _unit(min_confidence, "min_confidence"),
            "min_answers_to_slash": min_answers_to_slash,
            "slash_z": float(slash_z),
        }
        return cls(config, planner)

    @property
    def job_id(self) -> str:
        """The job's id."""
        return str(self.config["job_id"])

    @property
    def rate(self) -> int:
        """Price per answer at accuracy 1, fixed when the job opened."""
        return int(self.config["rate"])

    def _task_id(self, worker: str, item: str) -> str:
        body = f"{self.planner.seed}\x1ftask\x1f{worker}\x1f{item}".encode()
        return hashlib.sha256(body).hexdigest()[:32]

    def _require_open(self) -> None:
        if self.status != OPEN:
            raise Conflict("the labeling job is closed", job=self.job_id)

    def take(self, worker: str, n: int = 1) -> list[Task]:
        """Hand a labeler up to ``n`` new tasks (the node checks their stake first).

        Raises:
            Conflict: If the job is closed.
            SchemaError: On a bad worker id or ``n``.
        """
        self._require_open()
        tasks = []
        for item in self.planner.take(worker, n):
            tid = self._task_id(worker, item)
            self.issued[tid] = (worker, item)
            tasks.append(Task(tid, item))
        return tasks

    def pending(self, worker: str) -> list[Task]:
        """Tasks handed to a labeler and not answered yet."""
        return [
            Task(t, item)
            for t, (w, item) in self.issued.items()
            if w == worker and t not in self.answers
        ]

    def task(self, task_id: str) -> Task:
        """Look a task up by id.

        Raises:
            NotFound: If no such task was handed out.
        """
        if task_id not in self.issued:
            raise NotFound("no such task", task_id=task_id)
        return Task(task_id, self.issued[task_id][1])

    def submit(self, worker: str, task_id: str, label: str) -> None:
        """Record a labeler's answer.

        Raises:
            Conflict: If the job is closed or the task was already answered.
            NotFound: If no such task was handed out.
            InvalidInput: If the task was handed to another labeler.
            SchemaError: If the label is not in the label set.
        """
        self._require_open()
        if task_id not in self.issued:
            raise NotFound("no such task", task_id=task_id)
        if self.issued[task_id][0] != worker:
            raise InvalidInput("task was not assigned to this worker", task_id=task_id)
        if task_id in self.answers:
            raise Conflict("task already answered", task_id=task_id)
        if label not in self.config["labels"]:
            raise SchemaError("label not in the label set", label=label)
        self.answers[task_id] = label

    def release(self, task_id: str) -> None:
        """Take back an unanswered task (e.g. timed out) so another labeler can do it.

        Raises:
            Conflict: If the job is closed or the task was answered.
            NotFound: If no such task was handed out.
        """
        self._require_open()
        if task_id not in self.issued:
            raise NotFound("no such task", task_id=task_id)
        if task_id in self.answers:
            raise Conflict("task already answered", task_id=task_id)
        worker, item = self.issued.pop(task_id)
        self.planner.release(worker, item)

    def close(self) -> JobResult:
        """Aggregate, score the labelers, split the bounty. Unanswered tasks lapse.

        Returns:
            The :class:`JobResult` (also kept in :attr:`result`).

        Raises:
            Conflict: If the job is already closed.
        """
        self._require_open()
        self.result = self._conclude()
        self.status = CLOSED
        return self.result

    def _conclude(self) -> JobResult:
        from fairwheel.labeling.aggregate import Answers, dawid_skene, majority_vote

        cfg = self.config
        gold: dict[str, str] = cfg["gold"]
        rows = [(self.issued[t][1], self.issued[t][0], lab) for t, lab in self.answers.items()]
        if not rows:
            payout = split_bounty(cfg["budget"], {}, {}, 1.0)
            return JobResult(cfg["method"], {}, list(self.planner.items), {}, payout, {}, 0, True)
        answers = Answers.from_rows(rows, cfg["labels"])
        aggregate = dawid_skene if cfg["method"] == "ds" else majority_vote
        agg = aggregate(answers, gold=gold)
        min_kappa = float(cfg["min_kappa"])
        digests: dict[str, list[list[str]]] = {}
        for item, worker, lab in rows:
            digests.setdefault(worker, []).append([item, lab])
        n_of, combined, bars, evidence = {}, {}, {}, {}
        stats: dict[str, tuple[float, int, int, float, float, float]] = {}
        for w, worker in enumerate(agg.workers):
            n, g_n, g_ok = int(agg.answers[w]), int(agg.gold_answers[w]), int(agg.gold_correct[w])
            acc, chance = float(agg.accuracy[w]), float(agg.chance[w])
            comb = ((n - g_n) * acc + g_ok) / n
            gap = 1.0 - chance
            kappa = (comb - chance) / gap if gap > 1e-12 else 1.0
            n_of[worker], combined[worker] = n, comb
            bars[worker] = chance + min_kappa * gap
            stats[worker] = (acc, g_n, g_ok, comb, chance, kappa)
            evidence[worker] = {
                "job": self.job_id,
                "method": cfg["method"],
                "ds_accuracy_ppm": to_ppm(acc),
                "chance_ppm": to_ppm(chance),
                "min_kappa_ppm": to_ppm(min_kappa),
                "gold_answers": g_n,
                "gold_correct": g_ok,
                "answers_sha256": hashlib.sha256(
                    canonical_json(sorted(digests[worker]))
                ).hexdigest(),
            }
        payout = split_bounty(
            cfg["budget"],
            n_of,
            combined,
            bars,
            rate=cfg["rate"],
            evidence=evidence,
            min_answers_to_slash=cfg["min_answers_to_slash"],
            slash_z=cfg["slash_z"],
        )
        slashed = {s.worker for s in payout.slashes}
        workers = {
            worker: WorkerReport(
                answers=n_of[worker],
                accuracy=acc,
                gold_answers=g_n,
                gold_correct=g_ok,
                combined_accuracy=comb,
                chance=chance,
                kappa=kappa,
                threshold=bars[worker],
                paid=payout.paid.get(worker, 0),
                slashed=worker in slashed,
            )
            for worker, (acc, g_n, g_ok, comb, chance, kappa) in sorted(stats.items())
        }
        labels: dict[str, ItemLabel] = {}
        task_ix = {t: i for i, t in enumerate(agg.tasks)}
        counts: dict[str, int] = {}
        for item, _, _ in rows:
            counts[item] = counts.get(item, 0) + 1
        for item in self.planner.items:
            if item in task_ix:
                i = task_ix[item]
                conf = float(agg.confidence[i])
                labels[item] = ItemLabel(
                    agg.label_of(i), conf, counts[item], conf >= cfg["min_confidence"]
                )
        credit: dict[str, dict[str, float]] = {}
        for item, worker, lab in rows:
            if item in labels and lab == labels[item].label and worker in payout.paid:
                credit.setdefault(item, {})[worker] = combined[worker]
        for item, shares in credit.items():
            total = sum(shares.values())
            credit[item] = {w: shares[w] / total for w in sorted(shares)}
        unlabelled = [i for i in self.planner.items if i not in labels]
        return JobResult(
            cfg["method"],
            labels,
            unlabelled,
            workers,
            payout,
            credit,
            agg.iterations,
            agg.converged,
        )

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-serialisable data."""
        cfg = dict(self.config)
        cfg["budget"], cfg["rate"] = str(cfg["budget"]), str(cfg["rate"])
        return {
            "format": "fairwheel-labeling-job/1",
            "config": cfg,
            "planner": self.planner.to_dict(),
            "status": self.status,
            "issued": {t: list(wi) for t, wi in self.issued.items()},
            "answers": self.answers,
            "result": None if self.result is None else self.result.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelingJob:
        """Restore a job saved with :meth:`to_dict`.

        Raises:
            SchemaError: If the data is not a saved job.
        """
        if data.get("format") != "fairwheel-labeling-job/1":
            raise SchemaError("not a saved labeling job")
        try:
            cfg = dict(data["config"])
            cfg["budget"], cfg["rate"] = int(cfg["budget"]), int(cfg["rate"])
            job = cls(cfg, Planner.from_dict(data["planner"]))
            job.status = data["status"]
            job.issued = {t: (wi[0], wi[1]) for t, wi in data["issued"].items()}
            job.answers = dict(data["answers"])
            job.result = None if data["result"] is None else JobResult.from_dict(data["result"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SchemaError("malformed labeling job state", error=repr(exc)) from None
        return job
