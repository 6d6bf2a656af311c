"""Backups of a node's home and database, and their restore into a new home.

A backup is a folder (or the same folder as a ``.tar.gz``) that describes itself::

    manifest.json          format, Fairwheel and schema versions, creation time, the chain,
                           row counts per table, and the SHA-256 and size of every file below
    database.sqlite        SQLite: a copy made by the online backup API (the WAL included)
    database.pgdump        or PostgreSQL: ``pg_dump --format=custom`` of the node's schema
    home/blobs/…           the encrypted content and its master key (without it: content lost)
    home/chain/state.json  the default local chain (``anvil://``) — contracts, balances, blocks
    home/operator.key      the operator key (unless it comes from FAIRWHEEL_OPERATOR_KEY)
    home/epochs/…          the published epoch files

Every file is mode 0600 and the folder 0700: the backup holds the operator key. The vector
index is left out: it is derived, and rebuilt from the database on the first open.

Consistency: the database is copied in one snapshot (SQLite's backup API, or ``pg_dump`` on a
snapshot exported by the transaction that also counts the rows), then the blobs and epoch files,
which are always written before the database rows that name them. A home on the default chain is
backed up only while no process has it open (its anvil rewrites ``chain/state.json`` every
second, so a copy taken under a running node would not match the database): the backup takes
the chain's lock, so no node can start meanwhile. A node on an ``http(s)://`` chain may run
during a backup: the chain keeps its own state. An ``embedded://`` chain lives only in its
process, so its home is refused (it could never be reopened).

:func:`restore` (:mod:`fairwheel.node.backup_restore`) checks the manifest and every hash before
it writes anything, builds the new home in a temporary folder beside it and renames it into
place; a PostgreSQL restore runs in one transaction (``psql``), so a failure leaves the target
database as it was. The files' hashed copies and the archive are :mod:`fairwheel.node.backup_files`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairwheel.config import Settings, redact_url
from fairwheel.errors import BackendError, ConfigError, Conflict, NotFound
from fairwheel.node.backup_files import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    copy_private,
    describe,
    fairwheel_version,
    sqlite_facts,
    write_archive,
    write_private,
)
from fairwheel.node.backup_pg import pg_dump
from fairwheel.node.backup_restore import RestoreReport, restore

__all__ = ["FORMAT", "FORMAT_VERSION", "BackupReport", "RestoreReport", "backup", "restore"]

_SQLITE_FILE, _PG_FILE = "database.sqlite", "database.pgdump"
_HOME_PARTS = ("blobs", "epochs")  # folders of the home copied whole


@dataclass(frozen=True)
class BackupReport:
    """What :func:`backup` wrote.

    Attributes:
        path: The backup folder or ``.tar.gz`` file.
        database: ``sqlite`` or ``postgresql``.
        schema_version: The database's schema version.
        rows: Rows per table, as copied.
        files: How many files the backup holds (the database included).
        size: Their total size in bytes.
        chain: ``anvil`` (the chain state is in the backup) or ``rpc`` (the chain keeps it).
        notes: What the operator must keep elsewhere (an operator key from the environment).
    """

    path: Path
    database: str
    schema_version: int
    rows: dict[str, int]
    files: int
    size: int
    chain: str
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------- backup


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Back up the node described by ``settings`` into ``dest`` (a folder, or ``….tar.gz``).

    Raises:
        NotFound: no home or no database where the settings point.
        ConfigError: an embedded chain (its home can never be reopened), an unusable database
            URL, or ``pg_dump`` missing.
        Conflict: ``dest`` exists or lies inside the home; the home is open in a process.
        BackendError: the database or a file could not be read or written.
    """
    s = settings.resolved()
    home, dest = s.home, dest.expanduser().resolve()
    if not home.is_dir():
        raise NotFound(f"no node home at {home}")
    if s.chain_url.startswith("embedded://"):
        raise ConfigError(
            f"{home} runs on the embedded chain, which lived only in the process that ran it: "
            "a backup could never be reopened (the node refuses a database from an earlier "
            "embedded chain). Run nodes worth keeping on anvil:// (the default) or http(s)://"
        )
    if dest.exists() or dest.is_symlink():
        raise Conflict(f"{dest} already exists: choose a new backup name")
    if dest.is_relative_to(home):
        raise Conflict(f"{dest} is inside the home {home}: put backups outside it")
    chain_dir = Path(s.chain_url.removeprefix("anvil://")) if _is_anvil(s.chain_url) else None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendError(f"cannot write the backup {dest}: {exc}") from exc
    with _home_lock(chain_dir, home):
        stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
        try:
            report = _write_backup(s, stage, chain_dir, dest)
            if dest.name.endswith((".tar.gz", ".tgz")):
                write_archive(stage, dest)
            else:
                stage.rename(dest)
        except OSError as exc:
            raise BackendError(f"cannot write the backup {dest}: {exc}") from exc
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return report


def _write_backup(s: Settings, stage: Path, chain_dir: Path | None, dest: Path) -> BackupReport:
    files: dict[str, dict[str, Any]] = {}
    if s.database_url.startswith("sqlite:///"):
        database, db_file = "sqlite", _SQLITE_FILE
        facts = _sqlite_backup(Path(s.database_url.removeprefix("sqlite:///")), stage / db_file)
    elif s.database_url.startswith(("postgresql://", "postgres://")):
        database, db_file = "postgresql", _PG_FILE
        facts = pg_dump(s.database_url, stage / db_file)
    else:
        raise ConfigError(f"cannot back up the database {redact_url(s.database_url)}")
    os.chmod(stage / db_file, 0o600)
    files[db_file] = describe(stage / db_file)
    # After the database: a blob or epoch file is written before the rows that name it.
    blobs = Path(s.blobs_url.removeprefix("file://")) if s.blobs_url.startswith("file://") else None
    sources = {"blobs": blobs, "epochs": s.home / "epochs"}
    for part in _HOME_PARTS:
        root = sources[part]
        if root is not None and root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
                rel = f"home/{part}/{path.relative_to(root).as_posix()}"
                with contextlib.suppress(FileNotFoundError):  # a temp file renamed meanwhile
                    files[rel] = copy_private(path, stage / rel)
    notes = []
    if blobs is None:
        notes.append(f"blobs at {s.blobs_url} are not files: their content is not in the backup")
    key = s.home / "operator.key"
    if key.is_file():
        files["home/operator.key"] = copy_private(key, stage / "home/operator.key")
    else:
        notes.append("the operator key comes from FAIRWHEEL_OPERATOR_KEY: keep it yourself")
    if chain_dir is not None:
        state = chain_dir / "state.json"
        if not state.is_file():
            raise NotFound(f"no chain state at {state}: the home's chain was lost")
        files["home/chain/state.json"] = copy_private(state, stage / "home/chain/state.json")
    chain_id = facts["meta"].get("chain_id")
    chain = {
        "kind": "anvil" if chain_dir is not None else "rpc",
        "chain_id": None if chain_id is None else int(chain_id),
        "contracts": json.loads(facts["meta"].get("deployment") or "{}"),
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fairwheel_version": fairwheel_version(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "home": str(s.home),
        "database": {"backend": database, "file": db_file, "schema": facts.get("schema"),
                     "schema_version": facts["schema_version"], "rows": facts["rows"]},
        "chain": chain,
        "files": files,
        "notes": notes,
    }  # fmt: skip
    write_private(stage / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    for folder in [stage, *(p for p in stage.rglob("*") if p.is_dir())]:
        os.chmod(folder, 0o700)
    return BackupReport(
        path=dest, database=database, schema_version=facts["schema_version"],
        rows=facts["rows"], files=len(files), size=sum(f["size"] for f in files.values()),
        chain=str(chain["kind"]), notes=notes,
    )  # fmt: skip


def _is_anvil(chain_url: str) -> bool:
    return chain_url.startswith("anvil://")


@contextlib.contextmanager
def _home_lock(chain_dir: Path | None, home: Path) -> Iterator[None]:
    """Hold the default chain's lock (the one a node takes to open it) for the backup."""
    if chain_dir is None:
        yield
        return
    if not chain_dir.is_dir():
        raise NotFound(f"no chain state in {chain_dir}: the home's chain was lost")
    with open(chain_dir / "lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            owner = lock.read().strip() or "another process"
            raise Conflict(
                f"{home} is open in {owner}: stop that node (fairwheel serve or the verb "
                "running) first, then back up — its anvil rewrites chain/state.json every "
                "second, so a copy taken now would not match the database"
            ) from None
        try:
            orphan = _live_anvil(chain_dir)
            if orphan is not None:
                raise Conflict(
                    f"an anvil left by a killed node (pid {orphan}) still saves {chain_dir}: "
                    "open the node once (any fairwheel verb stops it), then back up"
                )
            lock.seek(0)
            lock.truncate()
            lock.write(f"fairwheel backup, process {os.getpid()}\n")
            lock.flush()
            yield
        finally:
            lock.seek(0)
            lock.truncate()


def _live_anvil(chain_dir: Path) -> int | None:
    """The pid of an anvil still running on this chain folder, if any."""
    try:
        pid = int((chain_dir / "anvil.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    state = str(chain_dir / "state.json").encode()
    return pid if b"anvil" in cmdline[0] and state in cmdline else None


def _sqlite_backup(path: Path, out: Path) -> dict[str, Any]:
    """Copy the database with SQLite's online backup API (the WAL's pages included)."""
    if not path.is_file():
        raise NotFound(f"no database at {path}")
    try:
        src = sqlite3.connect(path)
        try:
            dst = sqlite3.connect(out)
            try:
                src.backup(dst)  # one step: a consistent snapshot, whatever other writers do
                dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
                return sqlite_facts(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackendError(f"cannot back up the database {path}: {exc}") from exc
