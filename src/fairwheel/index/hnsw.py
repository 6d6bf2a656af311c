"""``hnsw:///abs/dir``: an hnswlib graph (cosine, M=16, ef_construction=200) snapshotted to disk.

On disk, a folder holds ``hnsw-<random>.bin`` (the graph, vectors included) and ``index.json``
(format, dim, live ids, generation, and the name of the graph file). A save writes a *new*
graph file, then replaces ``index.json`` atomically, then deletes the old graph: the JSON
replace is the commit point, so a crash at any moment leaves a consistent pair on disk. If the
pair is missing or inconsistent on open, the index starts empty with generation ``""`` and the
node rebuilds it from the database.

hnswlib finds candidates; they are then re-scored exactly against the stored vectors, so
scores are exact cosines and ties break on the id, as in ``exact://``. Removals use
``mark_deleted`` (removed ids are never returned), and new ids reuse deleted slots.
One process owns a folder at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fairwheel.errors import BackendError
from fairwheel.index.base import check_batch, check_queries, check_query, rank_exact

log = logging.getLogger(__name__)

M = 16
EF_CONSTRUCTION = 200
#: Default lower bound of the search beam; a search uses ``max(ef_search, 2k)``.
EF_SEARCH = 64
_META = "index.json"
_FORMAT = 1
_MIN_CAPACITY = 1024


def _new_graph(dim: int, capacity: int) -> Any:
    import hnswlib

    graph = hnswlib.Index(space="cosine", dim=dim)
    graph.init_index(
        max_elements=capacity,
        M=M,
        ef_construction=EF_CONSTRUCTION,
        random_seed=100,
        allow_replace_deleted=True,
    )
    return graph


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HnswIndex:
    """Approximate nearest-neighbour search with exact re-ranking, persisted in a folder.

    Args:
        directory: The index folder (created if missing).
        dim: Vector length.
        ef_search: Lower bound of hnswlib's search beam (recall against speed).

    Raises:
        BackendError: the folder cannot be created.
    """

    def __init__(self, directory: Path, dim: int, ef_search: int = EF_SEARCH) -> None:
        self.dim = dim
        self.ef_search = ef_search
        self._dir = Path(directory)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create index folder {self._dir}: {exc}") from exc
        self._lock = threading.RLock()
        self._graph: Any = None
        self._live: set[int] = set()
        # Labels marked deleted that hnswlib may still hold; re-adding one revives its slot.
        self._deleted: set[int] = set()
        # Copies of vectors read back from the graph, filled on first use: hnswlib's get_items
        # costs ~17 us per vector, most of a paid search's re-scoring (docs/ports.md).
        self._copies: dict[int, np.ndarray] = {}
        self._generation = ""
        self._file: str | None = None
        self._dirty = False
        if not self._load():
            self._reset()

    # -- persistence -------------------------------------------------------------------

    def _reset(self) -> None:
        self._graph = _new_graph(self.dim, _MIN_CAPACITY)
        self._live, self._deleted = set(), set()
        self._copies = {}
        self._generation = ""
        self._dirty = True

    def _load(self) -> bool:
        meta_path = self._dir / _META
        if not meta_path.exists():
            return False
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("format") != _FORMAT:
                raise ValueError(f"unknown format {meta.get('format')!r}")
            if meta.get("dim") != self.dim:
                raise ValueError(f"saved dim {meta.get('dim')} != requested dim {self.dim}")
            name = str(meta["index_file"])
            if "/" in name or not name.startswith("hnsw-"):
                raise ValueError(f"bad index file name {name!r}")
            live = {int(i) for i in meta["ids"]}
            import hnswlib

            graph = hnswlib.Index(space="cosine", dim=self.dim)
            graph.load_index(str(self._dir / name), allow_replace_deleted=True)
            labels = {int(i) for i in graph.get_ids_list()}
            if not live <= labels or graph.element_count != len(labels):
                raise ValueError("ids in index.json do not match the graph file")
        except Exception as exc:  # any damage means "rebuild", never "crash the node"
            log.warning("ignoring unreadable index in %s (%s); starting empty", self._dir, exc)
            return False
        self._graph, self._live, self._deleted = graph, live, labels - live
        self._copies = {}
        self._generation = str(meta.get("generation", ""))
        self._file = name
        self._dirty = False
        self._remove_stale_files()
        return True

    def save(self) -> None:
        """Write the graph and ``index.json`` atomically (nothing to do if unchanged).

        Raises:
            BackendError: the files cannot be written.
        """
        with self._lock:
            if not self._dirty and self._file is not None:
                return
            name = f"hnsw-{uuid.uuid4().hex}.bin"
            meta = {
                "format": _FORMAT,
                "dim": self.dim,
                "index_file": name,
                "generation": self._generation,
                "ids": sorted(self._live),
            }
            tmp = self._dir / f".{_META}.{uuid.uuid4().hex}.tmp"
            try:
                self._graph.save_index(str(self._dir / name))
                with open(self._dir / name, "rb+") as fh:
                    os.fsync(fh.fileno())
                with open(tmp, "w") as fh:
                    json.dump(meta, fh, separators=(",", ":"))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._dir / _META)
                _fsync_dir(self._dir)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
                    (self._dir / name).unlink(missing_ok=True)
                raise BackendError(f"cannot save index to {self._dir}: {exc}") from exc
            self._file = name
            self._dirty = False
            self._remove_stale_files()

    def _remove_stale_files(self) -> None:
        for path in self._dir.iterdir():
            stale_graph = path.name.startswith("hnsw-") and path.name != self._file
            if stale_graph or path.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    path.unlink()

    # -- mutation ----------------------------------------------------------------------

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert or replace vectors (re-adding a removed id brings it back).

        Raises:
            SchemaError: wrong shape or dimension, negative id, non-finite or zero vector.
            BackendError: hnswlib failed.
        """
        id_array, rows = check_batch(ids, vectors, self.dim)
        if not len(id_array):
            return
        with self._lock:
            update: list[int] = []
            fresh: list[int] = []
            for pos, rid in enumerate(id_array.tolist()):
                if rid in self._live:
                    update.append(pos)
                elif rid in self._deleted:
                    self._deleted.discard(rid)
                    try:
                        self._graph.unmark_deleted(rid)
                        update.append(pos)
                    except RuntimeError:  # its slot was since reused by another id
                        fresh.append(pos)
                else:
                    fresh.append(pos)
            try:
                needed = self._graph.element_count + len(fresh)
                capacity = self._graph.get_max_elements()
                if needed > capacity:
                    self._graph.resize_index(max(needed, 2 * capacity, _MIN_CAPACITY))
                # Existing labels must take the update path: with replace_deleted=True hnswlib
                # would give them a second slot and leave the old one live.
                if update:
                    self._graph.add_items(rows[update], id_array[update], replace_deleted=False)
                if fresh:
                    self._graph.add_items(rows[fresh], id_array[fresh], replace_deleted=True)
            except RuntimeError as exc:
                raise BackendError(f"hnswlib add failed: {exc}") from exc
            for rid in id_array.tolist():
                self._copies.pop(rid, None)  # the graph now holds a new vector for it
            self._live.update(id_array.tolist())
            self._dirty = True

    def remove(self, ids: Sequence[int]) -> None:
        """Remove ids at once (revocation); unknown ids are ignored."""
        with self._lock:
            for rid in {int(i) for i in ids} & self._live:
                self._graph.mark_deleted(rid)
                self._live.discard(rid)
                self._deleted.add(rid)
                self._dirty = True

    def clear(self) -> None:
        """Drop every vector and reset the generation (files change on the next save)."""
        with self._lock:
            self._reset()

    # -- queries -----------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k live ids by exact cosine among hnswlib's candidates (ef = max(ef_search, 2k)).

        Raises:
            SchemaError: wrong query dimension, negative k, non-finite or zero query.
        """
        q = check_query(query, k, self.dim)
        with self._lock:
            n = len(self._live)
            if k == 0 or n == 0:
                return []
            if k >= n:
                return self._rank(np.fromiter(self._live, np.int64, n), q, k)
            # A few spare candidates let near-ties at the k-th place be re-ranked exactly.
            want = min(n, max(2 * k, k + 10))
            self._graph.set_ef(max(self.ef_search, 2 * k, want))
            try:
                labels, _ = self._graph.knn_query(q.astype(np.float32), k=want)
            except RuntimeError:
                # hnswlib could not reach `want` live nodes (heavy deletions): search all.
                log.warning("hnswlib search fell short in %s; using exact search", self._dir)
                return self._rank(np.fromiter(self._live, np.int64, n), q, k)
            return self._rank(labels[0].astype(np.int64), q, k)

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """:meth:`search` for each row of ``queries``: one hnswlib query for all rows (its
        threads share the work) and one fetch of their candidates' vectors.

        Raises:
            SchemaError: wrong query shape, negative k, non-finite or zero query.
        """
        rows = check_queries(queries, k, self.dim)
        with self._lock:
            n = len(self._live)
            if k == 0 or n == 0 or len(rows) == 0:
                return [[] for _ in rows]
            if k >= n:
                ids = np.fromiter(self._live, np.int64, n)
                vectors = self._vectors(ids)
                return [rank_exact(ids, vectors, q, k) for q in rows]
            want = min(n, max(2 * k, k + 10))
            self._graph.set_ef(max(self.ef_search, 2 * k, want))
            try:
                labels, _ = self._graph.knn_query(rows.astype(np.float32), k=want)
            except RuntimeError:
                return [self.search(q, k) for q in rows]
            labels = labels.astype(np.int64)
            unique, inverse = np.unique(labels, return_inverse=True)
            vectors = self._vectors(unique)
            inverse = inverse.reshape(labels.shape)
            return [rank_exact(labels[r], vectors[inverse[r]], q, k) for r, q in enumerate(rows)]

    def _rank(self, ids: np.ndarray, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        return rank_exact(ids, self._vectors(ids), q, k)

    def _vectors(self, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), dim)`` float32: the graph's stored vectors, read back once per id.

        The copies are the graph's own (normalised) floats, so scores are the same whether a
        vector was read now or before, and before or after a restart."""
        copies = self._copies
        missing = [i for i in ids.tolist() if i not in copies]
        if missing:
            fetched = np.asarray(self._graph.get_items(missing), dtype=np.float32)
            for rid, row in zip(missing, fetched, strict=True):
                copies[rid] = row
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([copies[i] for i in ids.tolist()])

    def __len__(self) -> int:
        return len(self._live)

    def ids(self) -> set[int]:
        """The live ids."""
        with self._lock:
            return set(self._live)

    @property
    def generation(self) -> str:
        """The marker last set or loaded (``""`` when new, cleared or unreadable)."""
        return self._generation

    def set_generation(self, value: str) -> None:
        """Set the generation marker; :meth:`save` persists it."""
        with self._lock:
            self._generation = str(value)
            self._dirty = True
