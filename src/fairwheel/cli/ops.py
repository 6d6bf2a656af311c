"""Operations verbs: ``fairwheel backup`` and ``fairwheel restore``.

Plain functions; :mod:`fairwheel.cli` registers them on the app. The work is
:mod:`fairwheel.node.backup`, imported when a command runs (``--help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fairwheel.cli._shared import run_or_exit

if TYPE_CHECKING:
    from fairwheel.node.backup import BackupReport, RestoreReport

HomeOption = Annotated[
    Path | None, typer.Option(help="The node's home (default: FAIRWHEEL_HOME, ~/.fairwheel).")
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(help="The node's database (default: FAIRWHEEL_DATABASE_URL, HOME/fairwheel.db)."),
]


def backup(
    dest: Annotated[Path, typer.Argument(help="A new folder, or a file ending in .tar.gz.")],
    home: HomeOption = None,
    database_url: DatabaseOption = None,
    chain_url: Annotated[
        str | None, typer.Option(help="The node's chain (default: FAIRWHEEL_CHAIN_URL, anvil://).")
    ] = None,
) -> None:
    """Back up a node: its database (a consistent copy), blobs, chain state, key and epochs.

    A home on the default chain must not be open (stop `fairwheel serve` first); a node on an
    http(s) chain may keep running. The backup holds the operator key: keep it private.
    """
    from fairwheel.config import load_settings
    from fairwheel.node.backup import backup as run_backup

    def work() -> BackupReport:
        settings = load_settings(home=home, database_url=database_url, chain_url=chain_url)
        return run_backup(settings, dest)

    report = run_or_exit(work)
    rows = sum(report.rows.values())
    typer.echo(
        f"backed up to {report.path}: {report.database} database (schema "
        f"{report.schema_version}, {rows} rows in {len(report.rows)} tables), "
        f"{report.files} files, {report.size:,} bytes, chain state "
        + ("included" if report.chain == "anvil" else "kept by the chain (rpc)")
    )
    for note in report.notes:
        typer.echo(f"note: {note}")


def restore(
    source: Annotated[Path, typer.Argument(help="A backup folder or .tar.gz.")],
    home: Annotated[Path, typer.Option(help="The new home (absent or empty).")],
    database_url: Annotated[
        str | None,
        typer.Option(help="An empty PostgreSQL database or schema, for a PostgreSQL backup."),
    ] = None,
) -> None:
    """Restore a backup into a new home, after checking every file against its manifest.

    Refuses a home or database that is not empty; a failure restores nothing.
    """
    from fairwheel.config import load_settings
    from fairwheel.node.backup import restore as run_restore

    def work() -> RestoreReport:
        return run_restore(source, load_settings(home=home, database_url=database_url))

    report = run_or_exit(work)
    typer.echo(
        f"restored {sum(report.rows.values())} rows into {report.database_url} and the home "
        f"{report.home}; {report.advice}"
    )
