"""The files of a backup: hashed private copies, the manifest's constants, the archive.

Shared by :mod:`fairwheel.node.backup` (writing a backup) and :mod:`fairwheel.node.backup_restore`
(checking and restoring one). Every file written here is mode 0600, created exclusively.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tarfile
import uuid
from pathlib import Path
from typing import IO, Any

from fairwheel.errors import ConfigError

__all__ = [
    "CHUNK", "FORMAT", "FORMAT_VERSION", "MANIFEST", "copy_private", "describe",
    "fairwheel_version", "open_private", "sqlite_facts", "write_archive", "write_private",
]  # fmt: skip

FORMAT = "fairwheel-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20


def sqlite_facts(db: sqlite3.Connection) -> dict[str, Any]:
    """The schema version, the rows per table and the ``meta`` table of a node's SQLite file."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )]  # fmt: skip
    if version == 0 or "meta" not in tables:
        raise ConfigError("the database holds no Fairwheel node (no schema version)")
    rows = {t: int(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in tables}
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    return {"schema_version": version, "rows": rows, "meta": meta}


def copy_private(src: Path, dst: Path) -> dict[str, Any]:
    """Copy ``src`` to ``dst`` (mode 0600) and describe it: its SHA-256 and size."""
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as fin, open_private(dst) as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def describe(path: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def open_private(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def write_private(path: Path, data: bytes) -> None:
    with open_private(path) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_archive(stage: Path, dest: Path) -> None:
    partial = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open_private(partial) as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for path in sorted(stage.rglob("*")):
                tar.add(path, arcname=path.relative_to(stage).as_posix(), recursive=False)
        partial.rename(dest)
    finally:
        partial.unlink(missing_ok=True)


def fairwheel_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fairwheel")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "unknown"
