"""``fairwheel epoch …``: close an epoch, check a published file, verify it against the chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fairwheel.cli._shared import (
    ProgressOption,
    fail,
    pool_node,
    read_text_file,
    run_or_exit,
    working,
)

epoch_app = typer.Typer(help="Epoch settlement: close, check, verify.", no_args_is_help=True)

_WHERE = ("an epoch file is the JSON lines the node publishes (HOME/epochs/, or GET "
          "/v1/pools/POOL/epochs/EPOCH/file)")  # fmt: skip


def readable_epoch_file(file: Path) -> None:
    """Exit with one line if ``file`` is not UTF-8 JSON lines of objects (where and why)."""
    from fairwheel.errors import CsvError

    try:
        text = read_text_file(file)
    except CsvError as exc:
        fail(f"{exc.message}; {_WHERE}")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        fail(f"{file} is empty; {_WHERE}")
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except ValueError as exc:
            fail(f"{file}, line {number}: not JSON ({exc}); {_WHERE}")
        if not isinstance(item, dict):
            fail(f"{file}, line {number}: not a JSON object; {_WHERE}")


@epoch_app.command("check")
def epoch_check(
    file: Annotated[Path, typer.Argument(help="A published epoch file (.jsonl).")],
) -> None:
    """Recompute an epoch's root from its published file alone and print it."""
    from fairwheel.settlement.epoch import verify_epoch_file

    readable_epoch_file(file)
    try:
        check = run_or_exit(lambda: verify_epoch_file(file))
    except (KeyError, TypeError, ValueError) as exc:
        fail(f"{file} is not an epoch file (a line lacks or mistypes {exc}); {_WHERE}")
    typer.echo(json.dumps(check.__dict__, indent=1))


@epoch_app.command("close")
def epoch_close(
    pool: Annotated[int, typer.Argument(help="Pool id.")], progress_bar: ProgressOption = None
) -> None:
    """Redeem vouchers, fold the ledger into cumulative earnings and post the epoch root.

    With no paid call since the last close there is nothing to do: it says so and exits 0
    (a scheduler may run it at any time). ``fairwheel worker`` closes epochs on schedule.
    """

    def work() -> dict[str, object]:
        with pool_node(pool) as node:  # an unknown pool is an error, not "nothing to close"
            if not node.settlement.has_open_calls(pool):
                return {"pool_id": pool, "closed": False, "warnings": [],
                        "reason": "no paid calls since the last epoch"}  # fmt: skip
            with working(f"closing pool {pool}'s epoch", progress_bar):
                report = node.close_epoch(pool)
            return {"closed": True, **{k: v for k, v in report.__dict__.items() if k != "earnings"}}

    report = run_or_exit(work)
    for warning in report["warnings"]:  # type: ignore[attr-defined]
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(json.dumps(report, indent=1, default=str))


@epoch_app.command("verify")
def epoch_verify(
    pool: Annotated[int, typer.Argument(help="Pool id.")],
    epoch: Annotated[int, typer.Argument(help="Epoch number.")],
    file: Annotated[Path, typer.Option(help="The published epoch file.")],
    chain_url: Annotated[
        str, typer.Option(help="JSON-RPC URL of the chain the root was posted to.")
    ] = "http://127.0.0.1:8545",
) -> None:
    """Recompute an epoch from its published file and compare with the chain alone.

    Uses no node database: the distributor's address comes from the file's header.
    Exits 1 and names the first mismatch if anything differs.
    """
    from fairwheel.node.settlement import verify_file_on_chain

    readable_epoch_file(file)
    verdict = run_or_exit(lambda: verify_file_on_chain(chain_url, pool, epoch, file))
    typer.echo(json.dumps(verdict.__dict__, indent=1))
    if not verdict.ok:
        fail(f"epoch {epoch} of pool {pool} does not verify: {verdict.problem}")
