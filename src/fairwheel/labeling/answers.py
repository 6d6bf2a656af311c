"""Crowd answers encoded as integer arrays, with their vocabularies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fairwheel.errors import SchemaError


@dataclass(frozen=True, eq=False)
class Answers:
    """Answers encoded as integer arrays, with their vocabularies.

    Attributes:
        task: Task index of each answer (into ``tasks``).
        worker: Worker index of each answer (into ``workers``).
        label: Class index of each answer (into ``classes``).
        tasks: Task ids, in order of first appearance.
        workers: Worker ids, in order of first appearance.
        classes: Class labels; their order breaks ties (first wins).
    """

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    tasks: tuple[str, ...]
    workers: tuple[str, ...]
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        """Check that the arrays line up with the vocabularies.

        Raises:
            SchemaError: On an empty answer set, arrays of unequal length or an
                index out of range.
        """
        n = len(self.task)
        if n == 0:
            raise SchemaError("no answers to aggregate")
        if len(self.worker) != n or len(self.label) != n:
            raise SchemaError("task, worker and label arrays differ in length")
        for arr, vocab, name in (
            (self.task, self.tasks, "task"),
            (self.worker, self.workers, "worker"),
            (self.label, self.classes, "label"),
        ):
            if arr.min() < 0 or arr.max() >= len(vocab):
                raise SchemaError(f"{name} index out of range")

    @property
    def n_answers(self) -> int:
        """Number of answers."""
        return len(self.task)

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[str, str, str]], classes: Sequence[str] | None = None
    ) -> Answers:
        """Encode ``(task, worker, label)`` rows.

        Args:
            rows: The answers; a repeated (task, worker) pair counts as two answers.
            classes: The label set in tie-break order; default: the labels seen,
                sorted.

        Returns:
            The encoded :class:`Answers`.

        Raises:
            SchemaError: On no rows, an empty field, or a label outside ``classes``.
        """
        task_ix: dict[str, int] = {}
        worker_ix: dict[str, int] = {}
        t_list: list[int] = []
        w_list: list[int] = []
        labels: list[str] = []
        for n, (t, w, lab) in enumerate(rows):
            if not t or not w or not lab:
                raise SchemaError("empty task, worker or label", row=n)
            t_list.append(task_ix.setdefault(t, len(task_ix)))
            w_list.append(worker_ix.setdefault(w, len(worker_ix)))
            labels.append(lab)
        if classes is None:
            classes = sorted(set(labels))
        class_ix = {c: k for k, c in enumerate(classes)}
        if len(class_ix) != len(classes):
            raise SchemaError("duplicate class in the label set")
        try:
            l_list = [class_ix[lab] for lab in labels]
        except KeyError as exc:
            raise SchemaError("label not in the label set", label=exc.args[0]) from None
        return cls(
            task=np.asarray(t_list, dtype=np.int64),
            worker=np.asarray(w_list, dtype=np.int64),
            label=np.asarray(l_list, dtype=np.int64),
            tasks=tuple(task_ix),
            workers=tuple(worker_ix),
            classes=tuple(classes),
        )
