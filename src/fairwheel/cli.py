"""The ``fairwheel`` command line. Heavy libraries are imported inside commands,
so ``fairwheel --help`` is instant."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from fairwheel.errors import FairwheelError

if TYPE_CHECKING:
    from fairwheel.node import Node

app = typer.Typer(
    name="fairwheel",
    help="Fairwheel: a data flywheel that pays contributors for every use of their data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")
epoch_app = typer.Typer(help="Epoch settlement: close, check, verify.", no_args_is_help=True)
app.add_typer(epoch_app, name="epoch")


@app.command()
def demo(
    data: Annotated[
        Path | None, typer.Option(help="CSV with text,label columns (default: synthetic data).")
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="Node home for this run (default: a fresh temp dir).")
    ] = None,
    text_col: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_col: Annotated[
        str | None,
        typer.Option(help="Label column of --data (default: 'label', or the other of two)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Use at most this many rows of --data.")] = None,
    contributors: Annotated[int, typer.Option(min=3)] = 12,
    consumers: Annotated[int, typer.Option(min=1)] = 3,
    searches: Annotated[int, typer.Option(min=1)] = 30,
    predictions: Annotated[int, typer.Option(min=0)] = 30,
    seed: int = 7,
    embedder: Annotated[str, typer.Option(help="Embedder URL.")] = "minilm://onnx",
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=50,
            help="Run a simulated market for N epochs, with an HTML "
            "report (default: one checked turn).",
        ),
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Where --epochs writes its report.")] = None,
) -> None:
    """Run one full turn of the flywheel on the embedded defaults and check it.

    With --epochs N: N epochs of a simulated market (joining contributors, attackers,
    consumers following model quality, revocations, a demand pool) and an HTML report.
    """
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="fairwheel-demo-"))
    elif home.exists() and any(home.iterdir()):
        _fail(f"--home {home} is not empty; the embedded chain needs a fresh home")
    if data is not None and not data.is_file():
        _fail(f"--data {data}: no such file")
    if epochs is not None:
        from fairwheel.sim.market import MarketConfig, run_market

        market = MarketConfig(home=home, epochs=epochs, data=data, text_col=text_col,
                              label_col=label_col, seed=seed, embedder_url=embedder,
                              report=report)  # fmt: skip
        outcome = run_or_exit(lambda: run_market(market))
        if not outcome.ok:
            _fail(f"market checks failed: {[n for n, ok in outcome.checks.items() if not ok]}")
        return
    from fairwheel.sim.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        home=home, contributors=contributors, consumers=consumers, searches=searches,
        predictions=predictions, data=data, text_col=text_col, label_col=label_col,
        limit=limit, seed=seed, embedder_url=embedder,
    )  # fmt: skip
    result = run_or_exit(lambda: run_demo(cfg))
    if not result.ok:
        failed = [name for name, ok in result.checks.items() if not ok]
        _fail(f"demo checks failed: {failed}")


@epoch_app.command("check")
def epoch_check(
    file: Annotated[Path, typer.Argument(help="A published epoch file (.jsonl).")],
) -> None:
    """Recompute an epoch's root from its published file alone and print it."""
    from fairwheel.settlement.epoch import verify_epoch_file

    check = run_or_exit(lambda: verify_epoch_file(file))
    typer.echo(json.dumps(check.__dict__, indent=1))


@epoch_app.command("close")
def epoch_close(pool: Annotated[int, typer.Argument(help="Pool id.")]) -> None:
    """Redeem vouchers, fold the ledger into cumulative earnings and post the epoch root."""

    def work() -> dict[str, object]:
        with _node() as node:
            report = node.close_epoch(pool)
            return {k: v for k, v in report.__dict__.items() if k != "earnings"}

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
    from fairwheel._settling import verify_file_on_chain

    verdict = run_or_exit(lambda: verify_file_on_chain(chain_url, pool, epoch, file))
    typer.echo(json.dumps(verdict.__dict__, indent=1))
    if not verdict.ok:
        _fail(f"epoch {epoch} of pool {pool} does not verify: {verdict.problem}")


@app.command()
def claim(
    pool: Annotated[int, typer.Argument(help="Pool id.")],
    account: Annotated[str, typer.Argument(help="The account to pay (0x…).")],
) -> None:
    """Claim an account's cumulative earnings on-chain (sent by the node's key, paid to ACCOUNT)."""

    def work() -> int:
        with _node() as node:
            return node.claim(pool, account, sender=node.operator)

    typer.echo(f"claimed {run_or_exit(work)} token units for {account}")


@app.command()
def earnings(account: Annotated[str, typer.Argument(help="Contributor or builder (0x…).")]) -> None:
    """Every paid use that earned ACCOUNT something: when, pool, kind and amount."""

    def work() -> list[dict[str, object]]:
        with _node() as node:
            return node.earnings_of(account)

    for use in run_or_exit(work):
        typer.echo(json.dumps(use))


@contextmanager
def _node() -> Iterator[Node]:
    from fairwheel.node import Node

    node = Node.open()
    try:
        yield node
    finally:
        node.close()


@app.command()
def settings() -> None:
    """Print the resolved settings (environment, FAIRWHEEL_CONFIG file, defaults)."""
    from fairwheel.config import load_settings

    typer.echo(run_or_exit(load_settings).model_dump_json(indent=1))


@app.command()
def version() -> None:
    """Print Fairwheel's version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("fairwheel"))


def run_or_exit(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn a FairwheelError into a one-line message and exit code 1."""
    try:
        return fn()
    except FairwheelError as exc:
        _fail(f"{exc.code}: {exc.message}")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _register_subcommands() -> None:
    # Sub-apps live next to their capability; their heavy imports stay inside commands.
    from fairwheel.api.cli import remote_app, serve
    from fairwheel.labeling.cli import labels_app
    from fairwheel.loop_cli import export_app, models_app
    from fairwheel.quality.cli import quality_app
    from fairwheel.valuation.cli import value

    app.command("value")(value)
    app.add_typer(labels_app, name="labels")
    app.add_typer(quality_app, name="quality")
    app.add_typer(models_app, name="models")
    app.add_typer(export_app, name="export")
    app.command("serve")(serve)
    app.add_typer(remote_app, name="remote")


_register_subcommands()


def main() -> None:
    """Entry point of the ``fairwheel`` script."""
    app(prog_name="fairwheel")


if __name__ == "__main__":
    main()
