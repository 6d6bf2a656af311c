"""The embedder port: text in, unit-length float32 vectors out.

Backends, chosen by URL (:func:`open_embedder`):

==========================  ==================================================================
``minilm://onnx`` (default)  all-MiniLM-L6-v2 exported once to ONNX, run by ONNX Runtime on CPU;
                             falls back to ``minilm://torch`` (with a warning) if export fails.
                             ``?threads=N`` sets ONNX Runtime's intra-op threads.
``minilm://torch``           the same model through sentence-transformers on torch (CPU).
``fake-hash://DIM``          hashed bag of words; a fake for unit tests of other components.
==========================  ==================================================================

Importing this package is cheap: torch, onnxruntime and sentence-transformers are imported only
when a real model is opened.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fairwheel.embed.base import Embedder
from fairwheel.embed.fake import FakeHashEmbedder
from fairwheel.errors import ConfigError

__all__ = ["DEFAULT_EMBEDDER_URL", "Embedder", "FakeHashEmbedder", "open_embedder"]

DEFAULT_EMBEDDER_URL = "minilm://onnx"


def open_embedder(url: str, cache_dir: Path) -> Embedder:
    """Open the embedder a URL names.

    Args:
        url: ``minilm://onnx`` (also ``minilm://``), ``minilm://onnx?threads=N``,
            ``minilm://torch`` or ``fake-hash://DIM``.
        cache_dir: Folder for derived model files (the exported ONNX graph); created if needed.

    Returns:
        A ready embedder. Real models are loaded (and exported, the first time) before this
        returns.

    Raises:
        ConfigError: unknown scheme, runtime, option or dimension.
        BackendError: the model cannot be loaded on any runtime.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "fake-hash":
        try:
            dim = int(parts.netloc)
        except ValueError:
            raise ConfigError(
                f"fake-hash:// needs a dimension, e.g. fake-hash://384: {url!r}"
            ) from None
        if dim < 1:
            raise ConfigError(f"fake-hash:// dimension must be positive: {url!r}")
        return FakeHashEmbedder(dim)
    if scheme == "minilm":
        runtime = (parts.netloc or "onnx").lower()
        if runtime not in ("onnx", "torch") or parts.path.strip("/"):
            raise ConfigError(f"minilm:// runtime must be onnx or torch: {url!r}")
        query = parse_qs(parts.query, strict_parsing=False)
        unknown = set(query) - {"threads"}
        if unknown or (runtime == "torch" and query):
            raise ConfigError(f"unknown embedder option(s) {sorted(query)} in {url!r}")
        threads: int | None = None
        if "threads" in query:
            try:
                threads = int(query["threads"][-1])
            except ValueError:
                raise ConfigError(f"threads must be an integer: {url!r}") from None
            if threads < 1:
                raise ConfigError(f"threads must be positive: {url!r}")
        from fairwheel.embed.minilm import open_minilm

        embedder: Embedder = open_minilm(runtime, Path(cache_dir), threads)
        return embedder
    raise ConfigError(
        f"unknown embedder URL {url!r}: expected minilm://onnx, minilm://torch or fake-hash://DIM"
    )
