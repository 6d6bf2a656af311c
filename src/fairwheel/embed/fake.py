"""A fake embedder for unit tests of *other* components. It understands nothing.

``FakeHashEmbedder`` maps each text to a hashed bag of words (the "hashing trick"): texts that
share words get similar vectors, and the same text always gets the same vector, in every process
and on every machine. It needs no model and embeds thousands of texts per second, which is all
that tests of the gate, index, valuation or node wiring need. Never use it for real data: it has
no notion of meaning, so paraphrases are *not* close unless they share words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from fairwheel.embed.base import check_texts, l2_normalise

_WORD = re.compile(r"\w+", re.UNICODE)
# Texts without any word still need a unit vector; they all share this one.
_EMPTY_TOKEN = "\x00empty"


class FakeHashEmbedder:
    """Deterministic hashed bag-of-words vectors (a test double, not a model).

    Args:
        dim: Length of the vectors.

    Attributes:
        dim: Length of the vectors.
        model_id: ``"fake-hash/<dim>"``.
    """

    def __init__(self, dim: int) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, not {dim}")
        self.dim = dim
        self.model_id = f"fake-hash/{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as signed, hashed word counts, L2-normalised.

        Args:
            texts: The texts.

        Returns:
            float32 array of shape ``(len(texts), dim)`` with unit rows.
        """
        items = check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            words = _WORD.findall(text.lower()) or [_EMPTY_TOKEN]
            for word in words:
                # blake2b, not hash(): Python's str hash is salted per process.
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        # A text whose words cancel out exactly still needs a defined direction.
        zero = ~out.any(axis=1)
        out[zero, 0] = 1.0
        return l2_normalise(out)
