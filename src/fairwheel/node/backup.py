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

:func:`restore` checks the manifest and every hash before it writes anything, builds the new home
in a temporary folder beside it and renames it into place; a PostgreSQL restore runs in one
transaction (``psql``), so a failure leaves the target database as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fairwheel.config import Settings, redact_url
from fairwheel.errors import BackendError, ConfigError, Conflict, NotFound, VerificationError
from fairwheel.node.backup_pg import pg_dump, pg_restore

__all__ = ["FORMAT", "FORMAT_VERSION", "BackupReport", "RestoreReport", "backup", "restore"]

FORMAT = "fairwheel-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_SQLITE_FILE, _PG_FILE = "database.sqlite", "database.pgdump"
_HOME_PARTS = ("blobs", "epochs")  # folders of the home copied whole
_CHUNK = 1 << 20


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
                _tar(stage, dest)
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
    files[db_file] = _describe(stage / db_file)
    # After the database: a blob or epoch file is written before the rows that name it.
    blobs = Path(s.blobs_url.removeprefix("file://")) if s.blobs_url.startswith("file://") else None
    sources = {"blobs": blobs, "epochs": s.home / "epochs"}
    for part in _HOME_PARTS:
        root = sources[part]
        if root is not None and root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
                rel = f"home/{part}/{path.relative_to(root).as_posix()}"
                with contextlib.suppress(FileNotFoundError):  # a temp file renamed meanwhile
                    files[rel] = _copy(path, stage / rel)
    notes = []
    if blobs is None:
        notes.append(f"blobs at {s.blobs_url} are not files: their content is not in the backup")
    key = s.home / "operator.key"
    if key.is_file():
        files["home/operator.key"] = _copy(key, stage / "home/operator.key")
    else:
        notes.append("the operator key comes from FAIRWHEEL_OPERATOR_KEY: keep it yourself")
    if chain_dir is not None:
        state = chain_dir / "state.json"
        if not state.is_file():
            raise NotFound(f"no chain state at {state}: the home's chain was lost")
        files["home/chain/state.json"] = _copy(state, stage / "home/chain/state.json")
    chain_id = facts["meta"].get("chain_id")
    chain = {
        "kind": "anvil" if chain_dir is not None else "rpc",
        "chain_id": None if chain_id is None else int(chain_id),
        "contracts": json.loads(facts["meta"].get("deployment") or "{}"),
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fairwheel_version": _version(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "home": str(s.home),
        "database": {"backend": database, "file": db_file, "schema": facts.get("schema"),
                     "schema_version": facts["schema_version"], "rows": facts["rows"]},
        "chain": chain,
        "files": files,
        "notes": notes,
    }  # fmt: skip
    _write_private(stage / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
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
                return _sqlite_facts(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackendError(f"cannot back up the database {path}: {exc}") from exc


def _sqlite_facts(db: sqlite3.Connection) -> dict[str, Any]:
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


def _copy(src: Path, dst: Path) -> dict[str, Any]:
    """Copy ``src`` to ``dst`` (mode 0600) and describe it: its SHA-256 and size."""
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as fin, _open_private(dst) as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            fout.write(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def _describe(path: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def _open_private(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_private(path: Path, data: bytes) -> None:
    with _open_private(path) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _tar(stage: Path, dest: Path) -> None:
    partial = dest.with_name(f".{dest.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with _open_private(partial) as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for path in sorted(stage.rglob("*")):
                tar.add(path, arcname=path.relative_to(stage).as_posix(), recursive=False)
        partial.rename(dest)
    finally:
        partial.unlink(missing_ok=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fairwheel")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "unknown"


# --------------------------------------------------------------------------------- restore


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
                    _copy(root / rel, dst)
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
        if _describe(path) != {"sha256": want.get("sha256"), "size": want.get("size")}:
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
        _copy(dump, path)
        try:
            db = sqlite3.connect(path)
            try:
                rows = _sqlite_facts(db)["rows"]
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
