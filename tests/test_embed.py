"""Tests of the embedder port: the fake, URL handling, and the real model on ONNX and torch.

The ``model`` tests share one ONNX embedder and one sentence-transformers model (session
fixtures). The ONNX graph is cached where the node caches it (``$FAIRWHEEL_CACHE_DIR`` or
``default_cache_dir()``; ``$FAIRWHEEL_TEST_MODEL_CACHE`` overrides both), so a fresh machine
exports it once (20-55 s on 2 cores) and later sessions reuse it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fairwheel.embed import Embedder, FakeHashEmbedder, open_embedder
from fairwheel.errors import BackendError, ConfigError

SENTENCES = [
    "The cat sits on the mat.",
    "A dog is playing fetch in the park with its owner on a sunny afternoon.",
    "Quantum computers use qubits.",
    "",
    "   padded with spaces   ",
    "Münchner Straßenbahn fährt pünktlich.",
    "東京は日本の首都です。",
    "Contributors sign consent messages before their records enter a data pool.",
    "Consumers pay per search from an escrow with signed cumulative vouchers.",
    "Exact KNN-Shapley values split each payment over the retrieved records.",
    "ok",
    "Revocation removes the record from the index and destroys its encryption key.",
    "Merkle roots of cumulative earnings are posted on chain once per epoch.",
    "How do I reset my password?",
    "I forgot my login credentials, how can I recover them?",
    "The stock market fell sharply today.",
    "!!!???",
    "1234567890",
    "A very long text about vector indexes and approximate search. " * 60,  # > 256 pieces
    "Short.",
    "Another moderately long sentence that talks about embeddings, tokenisers and pooling.",
    "The weather is lovely in spring.",
    "Spring weather is beautiful.",
    "Graph neural networks operate on nodes and edges.",
    "Is this the real life? Is this just fantasy?",
    "Pooling averages the token vectors over the real tokens only.",
    "Padding tokens must not leak into the sentence embedding.",
    "SELECT * FROM records WHERE status = 'accepted';",
    "def f(x):\n    return x * 2",
    "emoji 🚀🔥 and symbols ∑∫√",
    "The quick brown fox jumps over the lazy dog.",
    "A fast brown fox leaps over a sleepy dog.",
    "Photosynthesis converts light energy into chemical energy.",
    "The treaty was signed in 1648.",
    "Tokens",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
]


# -- the fake and URL handling (no model) -------------------------------------------------


def test_fake_is_deterministic_normalised_and_shaped() -> None:
    a, b = open_embedder("fake-hash://64", Path("/nonexistent")), FakeHashEmbedder(64)
    assert isinstance(a, Embedder) and a.dim == 64 and a.model_id == "fake-hash/64"
    x, y = a.embed(SENTENCES), b.embed(SENTENCES)
    assert x.dtype == np.float32 and x.shape == (len(SENTENCES), 64)
    assert np.array_equal(x, y)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-6)
    assert a.embed([]).shape == (0, 64)
    assert np.array_equal(a.embed(SENTENCES[::-1]), x[::-1])


def test_fake_is_stable_across_processes() -> None:
    code = (
        "from fairwheel.embed import FakeHashEmbedder;"
        "print(FakeHashEmbedder(16).embed(['same text here']).tobytes().hex())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    local = FakeHashEmbedder(16).embed(["same text here"]).tobytes().hex()
    assert runs == {local}


def test_fake_shared_words_are_closer() -> None:
    fake = FakeHashEmbedder(256)
    a, b, c = fake.embed(["red apple pie", "red apple tart", "quantum field theory"])
    assert float(a @ b) > float(a @ c)


def test_embed_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError):
        FakeHashEmbedder(8).embed("not a list")


@pytest.mark.parametrize(
    "url",
    [
        "openai://text-embedding-3",
        "minilm://gpu",
        "minilm://onnx/extra",
        "minilm://onnx?threads=zero",
        "minilm://onnx?threads=0",
        "minilm://onnx?bits=8",
        "minilm://torch?threads=2",
        "fake-hash://",
        "fake-hash://0",
        "fake-hash://abc",
        "no-scheme",
    ],
)
def test_bad_urls_are_config_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        open_embedder(url, tmp_path)


def test_importing_the_ports_loads_no_heavy_library() -> None:
    code = (
        "import sys, fairwheel.embed, fairwheel.index, fairwheel.blobs;"
        "heavy = {'torch', 'onnxruntime', 'sentence_transformers', 'transformers', 'hnswlib'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the real model -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_cache() -> Path:
    from fairwheel.config import default_cache_dir

    env = os.environ.get("FAIRWHEEL_TEST_MODEL_CACHE") or os.environ.get("FAIRWHEEL_CACHE_DIR")
    return Path(env) if env else default_cache_dir()


@pytest.fixture(scope="session")
def onnx_embedder(model_cache: Path) -> Embedder:
    return open_embedder("minilm://onnx", model_cache)


@pytest.fixture(scope="session")
def torch_embedder(model_cache: Path) -> Embedder:
    return open_embedder("minilm://torch", model_cache)


@pytest.fixture
def no_export(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from fairwheel.embed import minilm

    def refuse(dest: Path) -> None:
        raise RuntimeError("export disabled by the test")

    monkeypatch.setattr(minilm, "export_onnx", refuse)
    yield


@pytest.mark.model
def test_onnx_identity_and_cache(onnx_embedder: Embedder, model_cache: Path) -> None:
    assert onnx_embedder.model_id == "all-MiniLM-L6-v2/onnx-fp32"
    assert onnx_embedder.dim == 384
    from fairwheel.embed import minilm

    graph = minilm.onnx_cache_path(model_cache)
    assert graph.is_file() and "gt0.1.0" in graph.name


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.skipif(
    os.environ.get("FAIRWHEEL_SLOW") != "1",
    reason="a fresh export takes ~20 s (the session cache usually holds one); FAIRWHEEL_SLOW=1",
)
def test_fresh_export_matches_the_cached_graph(onnx_embedder: Embedder, tmp_path: Path) -> None:
    fresh = open_embedder("minilm://onnx", tmp_path)
    assert fresh.model_id == "all-MiniLM-L6-v2/onnx-fp32"
    assert [p.name for p in tmp_path.iterdir()] == [minilm_cache_name(tmp_path)]
    assert np.allclose(fresh.embed(SENTENCES), onnx_embedder.embed(SENTENCES), atol=1e-5)


def minilm_cache_name(cache: Path) -> str:
    from fairwheel.embed import minilm

    return minilm.onnx_cache_path(cache).name


@pytest.mark.model
def test_onnx_matches_sentence_transformers(
    onnx_embedder: Embedder, torch_embedder: Embedder
) -> None:
    assert torch_embedder.model_id == "all-MiniLM-L6-v2/torch-fp32"
    got, want = onnx_embedder.embed(SENTENCES), torch_embedder.embed(SENTENCES)
    assert got.shape == want.shape == (len(SENTENCES), 384)
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() > 0.999, cosines


@pytest.mark.model
def test_rows_are_unit_float32(onnx_embedder: Embedder) -> None:
    vectors = onnx_embedder.embed(SENTENCES)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()


@pytest.mark.model
def test_order_is_preserved_with_mixed_lengths(onnx_embedder: Embedder) -> None:
    # More than one batch (64), lengths shuffled, so sorting and un-sorting is exercised.
    rng = np.random.default_rng(0)
    texts = [SENTENCES[i] for i in rng.integers(len(SENTENCES), size=90)]
    texts = [f"{t} #{n}" for n, t in enumerate(texts)]
    batch = onnx_embedder.embed(texts)
    assert np.allclose(onnx_embedder.embed(texts[::-1])[::-1], batch, atol=1e-5)
    for i in (0, 17, 64, 89):
        assert np.allclose(onnx_embedder.embed([texts[i]])[0], batch[i], atol=1e-5)


@pytest.mark.model
def test_empty_input(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    for embedder in (onnx_embedder, torch_embedder):
        out = embedder.embed([])
        assert out.shape == (0, 384) and out.dtype == np.float32


@pytest.mark.model
def test_paraphrases_are_closer_than_unrelated(onnx_embedder: Embedder) -> None:
    pairs = [
        ("How do I reset my password?", "I forgot my login credentials, how can I recover them?"),
        ("The weather is lovely in spring.", "Spring weather is beautiful."),
        (
            "The quick brown fox jumps over the lazy dog.",
            "A fast brown fox leaps over a sleepy dog.",
        ),
    ]
    unrelated = "Photosynthesis converts light energy into chemical energy."
    for a, b in pairs:
        va, vb, vu = onnx_embedder.embed([a, b, unrelated])
        assert float(va @ vb) > float(va @ vu) + 0.2


@pytest.mark.model
@pytest.mark.usefixtures("no_export")
def test_cached_graph_is_reused_without_exporting(
    onnx_embedder: Embedder, model_cache: Path
) -> None:
    again = open_embedder("minilm://onnx?threads=1", model_cache)
    assert again.model_id == "all-MiniLM-L6-v2/onnx-fp32"
    assert np.allclose(again.embed(SENTENCES[:5]), onnx_embedder.embed(SENTENCES[:5]), atol=1e-5)


@pytest.mark.model
@pytest.mark.usefixtures("no_export")
def test_failed_export_falls_back_to_torch_with_a_warning(
    torch_embedder: Embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from fairwheel.embed import minilm

    # Reuse the session's torch model rather than loading a second copy.
    monkeypatch.setattr(minilm, "TorchEmbedder", lambda: torch_embedder)
    with caplog.at_level(logging.WARNING, logger="fairwheel.embed.minilm"):
        embedder = open_embedder("minilm://onnx", tmp_path / "empty-cache")
    assert embedder.model_id == "all-MiniLM-L6-v2/torch-fp32"
    assert any("falling back" in r.getMessage() for r in caplog.records)


@pytest.mark.model
@pytest.mark.usefixtures("onnx_embedder")
def test_unreadable_cached_graph_is_replaced(
    model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairwheel.embed import minilm

    cache = tmp_path / "cache"
    cache.mkdir()
    minilm.onnx_cache_path(cache).write_bytes(b"not an onnx graph")
    exported: list[Path] = []

    def fake_export(dest: Path) -> None:  # stands in for the real (slow) export
        exported.append(dest)
        dest.write_bytes(minilm.onnx_cache_path(model_cache).read_bytes())

    monkeypatch.setattr(minilm, "export_onnx", fake_export)
    embedder = open_embedder("minilm://onnx", cache)
    assert exported == [minilm.onnx_cache_path(cache)]
    assert embedder.model_id == "all-MiniLM-L6-v2/onnx-fp32"


def test_backend_error_is_raised_when_no_runtime_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairwheel.embed import minilm

    def broken() -> None:
        raise BackendError("no torch either")

    monkeypatch.setattr(minilm, "open_onnx", lambda cache, threads: broken())
    monkeypatch.setattr(minilm, "TorchEmbedder", broken)
    with pytest.raises(BackendError):
        open_embedder("minilm://onnx", tmp_path)
