"""The restore of a backup (:mod:`fairwheel.node.backup`) into a new home.

:func:`restore` checks the manifest and every hash before it writes anything, builds the new home
in a temporary folder beside it and renames it into place; a PostgreSQL restore runs in one
transaction (``psql``), so a failure leaves the target database as it was.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairwheel.config import Settings, redact_url
from fairwheel.errors import BackendError, ConfigError, Conflict, NotFound, VerificationError
from fairwheel.node.backup_files import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    copy_private,
    describe,
    sqlite_facts,
)
from fairwheel.node.backup_pg import pg_restore

__all__ = ["RestoreReport", "restore"]


@dataclass(frozen=True)
class RestoreReport:
    """What :func:`restore` put back.

    Attributes:
        home: The new home.
        database_url: Where the database went (redacted).
        rows: Rows per table, checked against the manifest.
        chain: ``anvil`` or ``rpc``, as in the backup's manifest.
        chain_id: The chain the node's contracts live on.
        advice: How to reopen the node (which chain URL).
    """

    home: Path
    database_url: str
    rows: dict[str, int]
    chain: str
    chain_id: int | None
    advice: str


def restore(source: Path, settings: Settings) -> RestoreReport:
    """Restore the backup at ``source`` into ``settings.home`` (and ``settings.database_url``).

    Nothing is written before the manifest and every file's hash check out; the home is built
    beside its final place and renamed into it, and a PostgreSQL database is loaded in one
    transaction, so a failure leaves neither half restored.

    Raises:
        NotFound: no backup at ``source``.
        VerificationError: not a backup, a missing file or a hash that does not match.
        ConfigError: a backup format or schema newer than this Fairwheel, a database URL of the
            other backend, or ``pg_restore``/``psql`` missing.
        Conflict: the home or the target database is not empty.
        BackendError: the database refused the restore.
    """
    s = settings.resolved()
    home = s.home
    if not source.exists():
        raise NotFound(f"no backup at {source}")
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise Conflict(f"{home} is not empty: restore into a new home")
    try:
        home.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendError(f"cannot restore into {home}: {exc}") from exc
    with _opened(source, home.parent) as root:
        manifest = _checked_manifest(root)
        backend = manifest["database"]["backend"]
        target = s.database_url
        if backend == "sqlite" and not target.startswith("sqlite:///"):
            raise ConfigError(f"{source} holds a SQLite database: restore it to sqlite:///…")
        if backend == "postgresql" and not target.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                f"{source} holds a PostgreSQL dump: give --database-url postgresql://… "
                "(an empty database, or an empty schema with ?options=-csearch_path%3DNAME)"
            )
        staging = home.parent / f".{home.name}.restoring-{uuid.uuid4().hex[:8]}"
        staging.mkdir(mode=0o700)
        try:
            for rel in manifest["files"]:
                if rel.startswith("home/"):
                    dst = staging / rel.removeprefix("home/")
                    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    copy_private(root / rel, dst)
            (staging / "epochs").mkdir(exist_ok=True, mode=0o700)
            rows = _restore_database(manifest, root, target, home, staging)
            staging.rename(home)  # an empty existing home is replaced
        except OSError as exc:
            raise BackendError(f"cannot restore into {home}: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    chain = manifest["chain"]
    if chain["kind"] == "anvil":
        advice = f"the chain state is in {home / 'chain'}: reopen with the default anvil://"
    else:
        advice = (
            f"the backup holds no chain state: reopen with --chain-url (FAIRWHEEL_CHAIN_URL) "
            f"naming an RPC of chain {chain['chain_id']}, where the contracts live"
        )
    return RestoreReport(
        home=home, database_url=redact_url(target), rows=rows, chain=chain["kind"],
        chain_id=chain["chain_id"], advice=advice,
    )  # fmt: skip


@contextlib.contextmanager
def _opened(source: Path, scratch: Path) -> Iterator[Path]:
    """The backup's folder: ``source`` itself, or a ``.tar.gz`` extracted beside the home."""
    if source.is_dir():
        yield source
        return
    if not tarfile.is_tarfile(source):
        raise VerificationError(f"{source} is not a Fairwheel backup (a folder or a .tar.gz)")
    where = Path(tempfile.mkdtemp(prefix=".fairwheel-backup-", dir=scratch))
    try:
        try:
            with tarfile.open(source, "r:*") as tar:
                tar.extractall(where, filter="data")  # no links out, no absolute paths
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise VerificationError(f"{source} is damaged: {exc}") from exc
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _checked_manifest(root: Path) -> dict[str, Any]:
    from fairwheel.store.sqlite import SCHEMA_VERSION

    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        files, database = manifest["files"], manifest["database"]
        if manifest.get("format") != FORMAT:
            raise ValueError("not a Fairwheel backup")
        version, schema = int(manifest["format_version"]), int(database["schema_version"])
        manifest["chain"].get("kind")
    except FileNotFoundError:
        raise VerificationError(f"{root} is not a Fairwheel backup: no {MANIFEST}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationError(f"{root / MANIFEST} is unreadable: {exc}") from exc
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"backup format {version} is not the one this Fairwheel reads ({FORMAT_VERSION})"
        )
    if schema > SCHEMA_VERSION:
        raise ConfigError(
            f"the backup's database is at schema {schema}, newer than this Fairwheel's "
            f"({SCHEMA_VERSION}): restore it with Fairwheel {manifest.get('fairwheel_version')}"
        )
    if database.get("backend") not in ("sqlite", "postgresql") or database.get("file") not in (
        files
    ):
        raise VerificationError("the manifest names no database file")
    for rel in files:
        parts = Path(rel).parts
        if (
            Path(rel).is_absolute()
            or ".." in parts
            or not (rel == database["file"] or parts[0] == "home")
        ):
            raise VerificationError(f"the manifest names a file outside the backup: {rel!r}")
    for rel, want in files.items():
        path = root / rel
        if not path.is_file():
            raise VerificationError(f"the backup is incomplete: {rel} is missing")
        if describe(path) != {"sha256": want.get("sha256"), "size": want.get("size")}:
            raise VerificationError(f"the backup is corrupt: {rel} does not match its hash")
    return dict(manifest)


def _restore_database(
    manifest: dict[str, Any], root: Path, target: str, home: Path, staging: Path
) -> dict[str, int]:
    from fairwheel.store import open_store

    database = manifest["database"]
    dump = root / database["file"]
    expected = {str(k): int(v) for k, v in database["rows"].items()}
    if database["backend"] == "postgresql":
        rows = pg_restore(dump, target, database.get("schema") or "public", expected, home)
    else:
        if Path(target.removeprefix("sqlite:///")) != home / "fairwheel.db":
            raise ConfigError(
                f"a SQLite backup is restored as {home / 'fairwheel.db'}, not "
                f"{target}: leave the database URL unset (move the file afterwards if you must)"
            )
        path = staging / "fairwheel.db"
        copy_private(dump, path)
        try:
            db = sqlite3.connect(path)
            try:
                rows = sqlite_facts(db)["rows"]
                if rows != expected:
                    raise VerificationError(f"the restored tables hold {rows}, not {expected}")
                # Epoch rows name their file by absolute path: point them into the new home.
                for (old,) in db.execute("SELECT DISTINCT file_path FROM epochs").fetchall():
                    new = str(home / "epochs" / Path(old).name)
                    db.execute("UPDATE epochs SET file_path = ? WHERE file_path = ?", (new, old))
                db.commit()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise VerificationError(f"the backup's database is unusable: {exc}") from exc
        target = f"sqlite:///{path}"
    open_store(target).close()  # it opens (and migrates an older schema) as a node would
    return rows
