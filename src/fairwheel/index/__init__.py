"""The vector index port: cosine search over record ids, derived from the database.

Backends, chosen by URL (:func:`open_index`):

=======================  ==============================================================
``hnsw:///abs/dir``      hnswlib graph with exact re-ranking, saved atomically in ``dir``;
                         ``?ef=N`` raises the search beam (default 64) for more recall
``exact://``             brute force in numpy, in memory (the reference; anything after
                         ``exact://`` is ignored)
=======================  ==============================================================

Both return exact cosine scores, best first, ties broken by the smaller id. hnswlib is
imported only when an ``hnsw://`` index is opened.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from fairwheel.errors import ConfigError
from fairwheel.index.base import VectorIndex
from fairwheel.index.exact import ExactIndex

__all__ = ["ExactIndex", "VectorIndex", "open_index"]


def open_index(url: str, dim: int) -> VectorIndex:
    """Open (or create) the index a URL names.

    Args:
        url: ``hnsw:///absolute/folder`` (optionally ``?ef=N``) or ``exact://``.
        dim: Vector length; an ``hnsw://`` folder saved with another length is ignored and
            the index starts empty (generation ``""``), so the node rebuilds it.

    Returns:
        The index, loaded from disk where the backend persists.

    Raises:
        ConfigError: unknown scheme or option, relative path, or a non-positive ``dim``.
        BackendError: the folder cannot be created.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"index dimension must be a positive integer, not {dim!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "exact":
        return ExactIndex(dim)
    if scheme == "hnsw":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ConfigError(f"hnsw:// needs an absolute folder, e.g. hnsw:///var/idx: {url!r}")
        from fairwheel.index.hnsw import EF_SEARCH, HnswIndex

        query = parse_qs(parts.query)
        if set(query) - {"ef"}:
            raise ConfigError(f"unknown hnsw:// option(s) {sorted(query)} in {url!r}")
        try:
            ef = int(query["ef"][-1]) if "ef" in query else EF_SEARCH
        except ValueError:
            raise ConfigError(f"ef must be an integer: {url!r}") from None
        if ef < 1:
            raise ConfigError(f"ef must be positive: {url!r}")
        return HnswIndex(Path(path), dim, ef_search=ef)
    raise ConfigError(f"unknown index URL {url!r}: expected hnsw:///abs/dir or exact://")
