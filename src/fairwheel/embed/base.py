"""The embedder port: its protocol and the numeric helpers every backend shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

#: Texts per forward pass. 64 keeps padding waste low once texts are sorted by length.
BATCH_SIZE = 64


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors.

    Attributes:
        dim: Length of every vector.
        model_id: Identifies the model *and* the runtime that produced the vectors
            (``"all-MiniLM-L6-v2/onnx-fp32"``), so stored embeddings can be traced.
    """

    dim: int
    model_id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: The texts, in any order and of any length (long ones are truncated).

        Returns:
            A float32 array of shape ``(len(texts), dim)`` whose rows are L2-normalised and in
            the order of ``texts``; shape ``(0, dim)`` for no texts.
        """
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list, refusing a bare string (which would embed each character).

    Raises:
        TypeError: ``texts`` is a string or holds something other than strings.
    """
    if isinstance(texts, str | bytes):
        raise TypeError("embed() takes a sequence of strings, not a single string")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"embed() takes strings, got {type(item).__name__}")
    return items


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Divide each row by its L2 norm (``torch.nn.functional.normalize``'s eps of 1e-12)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average token vectors over the real (unpadded) tokens, as sentence-transformers does.

    Args:
        hidden: ``(batch, tokens, dim)`` token embeddings.
        mask: ``(batch, tokens)`` attention mask, 1 for real tokens and 0 for padding.

    Returns:
        ``(batch, dim)`` float32 sentence vectors (not yet normalised).
    """
    weights = mask.astype(np.float32)
    summed = np.einsum("btd,bt->bd", hidden.astype(np.float32, copy=False), weights)
    counts = np.clip(weights.sum(axis=1, keepdims=True), 1e-9, None)
    return (summed / counts).astype(np.float32, copy=False)


def plan_batches(lengths: Sequence[int], batch_size: int = BATCH_SIZE) -> list[np.ndarray]:
    """Group input positions into batches of similar token length, longest first.

    Each batch pads to its longest item, so a batch is closed when it is full or when the next
    item is under half the batch's width: one long text then no longer drags 63 short ones up
    to 256 tokens (self-attention makes padded tokens cost as much as real ones).

    Args:
        lengths: Token count of each input.
        batch_size: Most inputs per batch.

    Returns:
        Arrays of input positions; together they cover every position once.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    for end in range(1, len(order) + 1):
        full = end - start == batch_size
        if end == len(order) or full or 2 * lengths[order[end]] < lengths[order[start]]:
            batches.append(order[start:end])
            start = end
    return batches


def embed_sorted(
    lengths: Sequence[int],
    dim: int,
    run_batch: Callable[[np.ndarray], np.ndarray],
    batch_size: int = BATCH_SIZE,
) -> np.ndarray:
    """Run ``run_batch`` over length-sorted batches and put the rows back in input order.

    Args:
        lengths: Token count of each input.
        dim: Width of the output rows.
        run_batch: Takes the input positions of one batch, returns their ``(len, dim)`` rows.
        batch_size: Most inputs per call of ``run_batch``.

    Returns:
        ``(len(lengths), dim)`` float32 rows in input order.
    """
    out = np.empty((len(lengths), dim), dtype=np.float32)
    for positions in plan_batches(lengths, batch_size):
        out[positions] = run_batch(positions)
    return out
