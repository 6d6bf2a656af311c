"""PostgreSQL for :mod:`fairwheel.node.backup`: ``pg_dump`` of a node's schema on an exported
snapshot, and its restore into an empty schema (of any name) in one ``psql`` transaction.

The node's schema is the first entry of ``search_path`` in the URL's ``options``
(``?options=-csearch_path%3Dnode1``), else ``public``. The password never goes on a command
line: the tools get it in ``PGPASSWORD``. A restore may go to a schema of another name (beside
the original, in the same database): pg_restore's SQL is requalified on the way to ``psql``,
which loads it, points the epoch rows at the new home and checks every table's row count
against the manifest in one transaction.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from fairwheel.config import redact_url
from fairwheel.errors import BackendError, ConfigError, Conflict, VerificationError

__all__ = ["pg_dump", "pg_restore"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _pg_conn(url: str) -> tuple[str, dict[str, str], str]:
    """``(conninfo without the password, environment with it, the node's schema)``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except Exception as exc:
        raise ConfigError(f"unusable database URL {redact_url(url)}: {exc}") from exc
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = params.pop("password")
    found = re.search(
        r"(?:-c\s*|--)search_path\s*=\s*([^\s,]+)", unquote(params.get("options", ""))
    )
    schema = found.group(1).strip("\"'") if found else "public"
    if not _IDENT.match(schema):
        raise ConfigError(f"the schema name {schema!r} is not a plain identifier")
    return make_conninfo(**params), env, schema


def _pg_tool(name: str) -> str:
    """``name`` from the newest ``/usr/lib/postgresql/N/bin`` (Debian), else from ``PATH``."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)  # fmt: skip
    tool = str(found[-1]) if found else shutil.which(name)
    if tool is None:
        raise ConfigError(f"{name} is not installed: apt-get install postgresql-client")
    return tool


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackendError(f"{what} failed: {last}")
    return done.stdout


def _scalar(db: Any, sql: str, *params: Any) -> Any:
    row = db.execute(sql, params).fetchone()
    return None if row is None else row[0]


def pg_dump(url: str, out: Path) -> dict[str, Any]:
    """``pg_dump`` the node's schema on a snapshot that also gives the rows and the version."""
    import psycopg

    conninfo, env, schema = _pg_conn(url)
    where = redact_url(url)
    try:
        with psycopg.connect(url) as db:
            db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            db.read_only = True
            snapshot = _scalar(db, "SELECT pg_export_snapshot()")
            tables = [r[0] for r in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_type = 'BASE TABLE' ORDER BY table_name", (schema,))]  # fmt: skip
            if "fairwheel_schema" not in tables or "meta" not in tables:
                raise ConfigError(f"schema {schema} of {where} holds no Fairwheel node")
            rows = {t: int(_scalar(db, f'SELECT COUNT(*) FROM "{schema}"."{t}"')) for t in tables}
            version = int(_scalar(db, f'SELECT MAX(version) FROM "{schema}".fairwheel_schema') or 0)
            meta: dict[str, str] = dict(
                db.execute(f'SELECT key, value FROM "{schema}".meta').fetchall()
            )
            _run([_pg_tool("pg_dump"), "--format=custom", f'--schema="{schema}"', "--no-owner",
                  "--no-privileges", f"--snapshot={snapshot}", f"--file={out}",
                  f"--dbname={conninfo}"], env, f"pg_dump of {where}")  # fmt: skip
    except psycopg.Error as exc:
        raise BackendError(f"cannot read {where}: {str(exc).strip().splitlines()[0]}") from exc
    return {"schema": schema, "schema_version": version, "rows": rows, "meta": meta}


def pg_restore(
    dump: Path, url: str, source_schema: str, expected: dict[str, int], home: Path
) -> dict[str, int]:
    """Load ``dump`` into the URL's schema in one transaction, checking the rows inside it."""
    import psycopg

    conninfo, env, schema = _pg_conn(url)
    where = redact_url(url)
    if not _IDENT.match(source_schema) or not all(_IDENT.match(t) for t in expected):
        raise VerificationError("the manifest names a schema or table that is not an identifier")
    try:
        with psycopg.connect(url, autocommit=True) as db:
            exists = _scalar(db, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = %s", schema)
            used = _scalar(
                db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", schema
            )
    except psycopg.Error as exc:
        raise BackendError(f"cannot reach {where}: {str(exc).strip().splitlines()[0]}") from exc
    if not exists:
        raise ConfigError(f"schema {schema} does not exist in {where}: CREATE SCHEMA {schema}")
    if used:
        raise Conflict(f"schema {schema} of {where} is not empty: restore into an empty one")
    toc = _run([_pg_tool("pg_restore"), "--list", str(dump)], env, "pg_restore --list")
    kept = [line for line in toc.splitlines() if not re.search(r"\b(SCHEMA|COMMENT) - ", line)]
    q = f'"{schema}"'
    checks = " ".join(
        f'IF (SELECT COUNT(*) FROM {q}."{t}") <> {n} THEN RAISE EXCEPTION '
        f"'table {t} holds % rows, not {n}', (SELECT COUNT(*) FROM {q}.\"{t}\"); END IF;"
        for t, n in sorted(expected.items())
    )
    epochs = str(home / "epochs").replace("'", "''") + "/"
    tail = (
        f"UPDATE {q}.epochs SET file_path = '{epochs}' || regexp_replace(file_path, '^.*/', '');\n"
        f"DO $check$ BEGIN {checks} END $check$;\nCOMMIT;\n"
    )
    with tempfile.TemporaryDirectory(prefix="fairwheel-restore-") as tmp:
        listing = Path(tmp) / "toc.list"
        listing.write_text("\n".join(kept) + "\n")
        sql = Path(tmp) / "restore.sql"
        args = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges",
                f"--use-list={listing}", "--file=-", str(dump)]  # fmt: skip
        with (
            open(sql, "wb") as out,
            subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc,
        ):
            assert proc.stdout is not None and proc.stderr is not None
            out.write(b"BEGIN;\n")
            _move_schema(proc.stdout, out, source_schema, schema)
            out.write(tail.encode())
            error = proc.stderr.read().decode(errors="replace").strip()
        if proc.returncode != 0:
            raise VerificationError(f"pg_restore cannot read {dump.name}: {error}")
        _run([_pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", f"--file={sql}",
              f"--dbname={conninfo}"], env, f"the restore into {where}")  # fmt: skip
    return dict(expected)


def _move_schema(lines: IO[bytes], out: IO[bytes], source: str, target: str) -> None:
    """Copy pg_restore's SQL, qualifying with ``target`` what it qualified with ``source``.

    pg_dump names every object of the dumped schema ``source.name`` (or ``"source".name``);
    rows between ``COPY … FROM stdin;`` and ``\\.`` are data and pass through untouched.
    """
    name = re.compile(rb'(?<![\w"$])' + re.escape(source.encode()) + rb"\.|\"" +
                      re.escape(source.encode()) + rb'"\.')  # fmt: skip
    qualified = b'"' + target.encode() + b'".'
    in_copy = False
    for line in lines:
        if in_copy:
            in_copy = line != b"\\.\n"
            out.write(line)
            continue
        out.write(name.sub(qualified, line))
        in_copy = line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;")
