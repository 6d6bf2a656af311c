"""``fairwheel remote …``: a node by URL. Signing happens here, with your own key.

The key (``--key-file`` or ``FAIRWHEEL_KEY``) is the remote user's, never a node setting: these
verbs talk HTTP and never build :class:`~fairwheel.config.Settings`, so a node's config cannot
hold, print or ship it. Every failure is one line (:func:`fairwheel.cli._shared.call_remote`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from fairwheel.cli._shared import call_remote, echo_json, fail, read_key_file, read_text_rows

remote_app = typer.Typer(
    help="Talk to a Fairwheel node by URL; signing happens here with your key.",
    no_args_is_help=True,
)


@remote_app.callback()
def _remote(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="FAIRWHEEL_URL", help="The node's base URL.")
    ] = "http://127.0.0.1:8000",
    key_file: Annotated[
        Path | None,
        typer.Option(help="File with your private key (0x hex); or set FAIRWHEEL_KEY."),
    ] = None,
) -> None:
    import os

    key = read_key_file(key_file) if key_file is not None else os.environ.get("FAIRWHEEL_KEY")
    ctx.obj = {"url": url, "key": key}


def _run(ctx: typer.Context, action: Callable[[Any], Any], *, login: bool = False) -> None:
    echo_json(call_remote(ctx.obj["url"], ctx.obj["key"], action, login=login))


@remote_app.command("health")
def remote_health(ctx: typer.Context) -> None:
    """The node's health."""
    _run(ctx, lambda c: c.health())


@remote_app.command("pools")
def remote_pools(ctx: typer.Context) -> None:
    """Every pool with its prices."""
    _run(ctx, lambda c: c.pools())


@remote_app.command("stats")
def remote_stats(ctx: typer.Context, pool: int) -> None:
    """A pool's records by status, index size, calls, revenue."""
    _run(ctx, lambda c: c.pool_stats(pool))


@remote_app.command("submit")
def remote_submit(
    ctx: typer.Context, pool: int, csv_file: Path, text_col: str = "text", label_col: str = "label"
) -> None:
    """Sign consent for each row of a CSV locally and submit (streamed)."""
    _, rows = read_text_rows(csv_file, text_col, label_col, "submit")
    _run(ctx, lambda c: c.submit_stream(pool, rows), login=True)


@remote_app.command("records")
def remote_records(ctx: typer.Context, pool: int | None = None) -> None:
    """Your records with status, score and reasons."""
    _run(ctx, lambda c: c.my_records(pool), login=True)


@remote_app.command("earnings")
def remote_earnings(ctx: typer.Context) -> None:
    """Every use of your data and what it earned."""
    _run(ctx, lambda c: c.earnings(), login=True)


@remote_app.command("search")
def remote_search(ctx: typer.Context, pool: int, query: str, k: int = 5) -> None:
    """A paid search (signs the voucher locally)."""
    _run(ctx, lambda c: c.search(pool, query, k))


@remote_app.command("predict")
def remote_predict(ctx: typer.Context, pool: int, text: str) -> None:
    """A paid prediction (signs the voucher locally)."""
    _run(ctx, lambda c: c.predict(pool, text))


@remote_app.command("epochs")
def remote_epochs(ctx: typer.Context, pool: int) -> None:
    """A pool's closed epochs."""
    _run(ctx, lambda c: c.epochs(pool))


@remote_app.command("claim-proof")
def remote_claim_proof(ctx: typer.Context, pool: int, account: str | None = None) -> None:
    """The leaf and proof to claim with (your account by default)."""
    _run(ctx, lambda c: c.claim_proof(pool, account), login=account is None)


@remote_app.command("review")
def remote_review(
    ctx: typer.Context,
    pool: int,
    release: Annotated[int | None, typer.Option(help="Accept this quarantined record.")] = None,
    quarantine: Annotated[int | None, typer.Option(help="Quarantine this record.")] = None,
    note: str = "",
) -> None:
    """The pool's quarantine queue, or a decision on one record (the operator's key only)."""
    if release is not None and quarantine is not None:
        fail("give --release or --quarantine, not both")
    if release is not None:
        _run(ctx, lambda c: c.review(release, "release", note), login=True)
    elif quarantine is not None:
        _run(ctx, lambda c: c.review(quarantine, "quarantine", note), login=True)
    else:
        _run(ctx, lambda c: c.review_queue(pool), login=True)


@remote_app.command("reputation")
def remote_reputation(ctx: typer.Context, pool: int, account: str | None = None) -> None:
    """A contributor's standing and slash evidence (your account by default)."""
    _run(ctx, lambda c: c.reputation(pool, account), login=account is None)


@remote_app.command("versions")
def remote_versions(ctx: typer.Context, pool: int) -> None:
    """Model versions: metrics, promotion report, serving, arena record, revoked records."""
    _run(ctx, lambda c: c.versions(pool))


@remote_app.command("rollback")
def remote_rollback(ctx: typer.Context, pool: int) -> None:
    """Serve the previously promoted model version again (the operator's key only)."""
    _run(ctx, lambda c: c.rollback(pool), login=True)


@remote_app.command("revocation-status")
def remote_revocation_status(ctx: typer.Context, record: int) -> None:
    """Each step of your record's revocation so far."""
    _run(ctx, lambda c: c.revocation_status(record), login=True)


@remote_app.command("export-mine")
def remote_export_mine(ctx: typer.Context) -> None:
    """Everything you contributed, decrypted: keep a copy before you revoke."""
    _run(ctx, lambda c: c.my_export(), login=True)


@remote_app.command("close-epoch")
def remote_close_epoch(ctx: typer.Context, pool: int) -> None:
    """Close the pool's epoch (the operator's key only)."""
    _run(ctx, lambda c: c.close_epoch(pool), login=True)
