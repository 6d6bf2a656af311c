"""The embedded trainer: a scikit-learn logistic regression on embeddings.

The trained model is serialised as a plain ``.npz`` of its weights (no pickle),
so its hash is a stable identity and loading it runs no code.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fairwheel.errors import Conflict


@dataclass(frozen=True)
class LinearModel:
    """A multinomial linear classifier over L2-normalised embeddings."""

    classes: tuple[str, ...]
    coef: np.ndarray  # (n_classes, dim) — one row per class, even for two classes
    intercept: np.ndarray  # (n_classes,)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    def predict(self, x: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(x).argmax(axis=1)]

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            classes=np.array(self.classes, dtype=np.str_),
            coef=self.coef.astype(np.float64),
            intercept=self.intercept.astype(np.float64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(tuple(str(c) for c in npz["classes"]), npz["coef"], npz["intercept"])

    @property
    def model_hash(self) -> str:
        return "0x" + hashlib.sha256(self.to_bytes()).hexdigest()


@dataclass(frozen=True)
class TrainResult:
    model: LinearModel
    train_index: np.ndarray  # positions (into the inputs) used for training
    holdout_index: np.ndarray  # positions held out for evaluation
    metrics: dict[str, float]


def train_classifier(
    x: np.ndarray,
    labels: Sequence[str],
    *,
    holdout: float = 0.2,
    seed: int = 0,
    holdout_mask: np.ndarray | None = None,
) -> TrainResult:
    """Train on a stratified split and evaluate on the held-out part.

    Args:
        x: Embeddings ``(n, d)``.
        labels: Their labels.
        holdout: Share held out when no mask is given.
        seed: Seed of that random split.
        holdout_mask: A fixed split (True: held out). Model versions of a pool use one fixed
            by record, so no version ever trains on another's evaluation records and their
            accuracies compare on the same footing. Ignored when it would leave the training
            part with fewer than two classes or the held-out part empty.

    Raises:
        Conflict: fewer than two classes, or too few records to hold any out.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    y = np.asarray(labels)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise Conflict("training needs records of at least two labels")
    if len(y) < 10:
        raise Conflict(f"training needs at least 10 consented records, the pool has {len(y)}")
    positions = np.arange(len(y))
    mask = None if holdout_mask is None else np.asarray(holdout_mask, dtype=bool)
    if mask is not None and mask.any() and len(np.unique(y[~mask])) >= 2:
        train_idx, hold_idx = positions[~mask], positions[mask]
    else:
        stratify = y if counts.min() >= 2 and int(len(y) * holdout) >= len(classes) else None
        train_idx, hold_idx = train_test_split(
            positions, test_size=holdout, random_state=seed, stratify=stratify
        )
    clf = LogisticRegression(C=10.0, max_iter=2000)
    clf.fit(x[train_idx], y[train_idx])
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: expand to one row per class
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    model = LinearModel(tuple(str(c) for c in clf.classes_), coef, intercept)
    pred = model.predict(x[hold_idx])
    metrics = {
        "accuracy": float(accuracy_score(y[hold_idx], pred)),
        "macro_f1": float(f1_score(y[hold_idx], pred, average="macro", zero_division=0)),
        "train_size": float(len(train_idx)),
        "holdout_size": float(len(hold_idx)),
        "classes": float(len(classes)),
    }
    return TrainResult(model, np.sort(train_idx), np.sort(hold_idx), metrics)
