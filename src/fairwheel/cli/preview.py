"""``fairwheel pool preview`` and ``fairwheel remote preview``: a dry run of the contribution gate.

Both read a CSV (``text,label`` columns by default) and print, per row, what submitting it would
do — ``accepted``, ``quarantined`` or ``rejected`` — with the deciding reason and how to fix it,
before anything is signed: nothing is stored, no nonce is spent, no reputation changes
(:mod:`fairwheel.node.preview`). ``pool preview`` opens the node at ``--home``; ``remote
preview`` asks a node over HTTP (``POST /v1/pools/{id}/preview``, at most 1,000 rows).

The answer is JSON on stdout (``line`` is the row's line in the file); one summary line goes to
stderr. The exit code is 0 whenever a preview was made, whatever it says.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairwheel.cli._shared import (
    HomeOption,
    ProgressOption,
    address,
    call_remote,
    checked_key,
    echo_json,
    fail,
    known_pool,
    node_at,
    pool_id,
    progress,
    read_text_rows,
    run_or_exit,
)

if TYPE_CHECKING:
    from fairwheel.node.preview import Preview

#: Most rows one remote preview carries (the API's limit, as for a contribution request).
MAX_REMOTE_ROWS = 1000

PoolArgument = Annotated[str, typer.Argument(help="Pool id (see `fairwheel pool list`).")]
CsvArgument = Annotated[Path, typer.Argument(help="A UTF-8 CSV file with a header row.")]
TextCol = Annotated[str, typer.Option(help="Column holding the text.")]
LabelCol = Annotated[str, typer.Option(help="Column holding the label ('' for no labels).")]
ContributorOption = Annotated[
    str | None,
    typer.Option(help="Judge the rows as this account's (0x…; default: a new contributor)."),
]


def report(preview: dict[str, Any], lines: list[int]) -> None:
    """Print the preview as JSON (each row with its ``line`` in the file) and a summary line."""
    rows = [{"line": line, **row} for line, row in zip(lines, preview["rows"], strict=True)]
    echo_json({**preview, "rows": rows})
    counts = preview["counts"]
    said = ", ".join(f"{counts[s]} {s}" for s in ("accepted", "quarantined", "rejected")
                     if counts.get(s))  # fmt: skip
    typer.echo(f"preview of {len(rows)} rows for pool {preview['pool_id']}: {said} (nothing "
               "was signed or stored)", err=True)  # fmt: skip


def _as_dict(preview: Preview) -> dict[str, Any]:
    return {
        "pool_id": preview.pool_id,
        "contributor": preview.contributor,
        "counts": preview.counts,
        "rows": [row.__dict__ for row in preview.rows],
        "notes": preview.notes,
    }


def _contributor(value: str | None) -> str | None:
    return None if value is None else address(value, "--contributor")


def pool_preview(
    pool: PoolArgument,
    csv_file: CsvArgument,
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    contributor: ContributorOption = None,
    home: HomeOption = None,
    progress_bar: ProgressOption = None,
) -> None:
    """Say per row of CSV_FILE what submitting it to the pool would do, and how to fix it.

    Runs the gate's checks that need no signature on the node at --home: rate limit, size,
    labels, exact copies (of stored records and of earlier rows), near copies, junk, outliers
    and label issues. Writes nothing.
    """
    pid = pool_id(pool)
    who = _contributor(contributor)
    lines, rows = read_text_rows(csv_file, text_col, label_col, "preview")
    with node_at(home) as node:
        known_pool(node, pid)
        with progress("embedding rows", progress_bar) as update:
            result = run_or_exit(lambda: node.preview(pid, rows, who, on_progress=update))
    report(_as_dict(result), lines)


def remote_preview(
    ctx: typer.Context,
    pool: PoolArgument,
    csv_file: CsvArgument,
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    contributor: Annotated[
        str | None,
        typer.Option(help="Judge the rows as this account's (default: your key's, else new)."),
    ] = None,
) -> None:
    """Ask the node what submitting CSV_FILE's rows would do, per row, before signing any.

    Needs no sign-in; with your key (--key-file or FAIRWHEEL_KEY) the rows are judged as yours.
    At most 1,000 rows per preview.
    """
    pid = pool_id(pool)
    who = _contributor(contributor)
    url, key = ctx.obj["url"], ctx.obj["key"]
    if who is None and key:
        from eth_account import Account

        who = str(Account.from_key(checked_key(key)).address)
    lines, rows = read_text_rows(csv_file, text_col, label_col, "preview")
    if len(rows) > MAX_REMOTE_ROWS:
        fail(f"{csv_file} has {len(rows):,} rows; a remote preview takes at most "
             f"{MAX_REMOTE_ROWS:,}: split the file, or preview on the node with `fairwheel pool "
             "preview`")  # fmt: skip
    body: dict[str, Any] = {"rows": [{"text": t, "label": lab} for t, lab in rows]}
    if who is not None:
        body["contributor"] = who
    path = f"/v1/pools/{pid}/preview"
    report(call_remote(url, None, lambda client: client.post(path, body), login=False), lines)
