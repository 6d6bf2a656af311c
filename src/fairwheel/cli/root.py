"""The root verbs: ``fairwheel demo``, ``claim``, ``earnings``, ``settings`` and ``version``.

Plain functions; :mod:`fairwheel.cli` registers them on the app.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fairwheel.cli._shared import (
    address,
    fail,
    open_node,
    pool_node,
    read_csv_rows,
    run_or_exit,
)

if TYPE_CHECKING:
    from fairwheel.domain.rows import EarningUse


def demo(
    data: Annotated[
        Path | None, typer.Option(help="CSV with text,label columns (default: synthetic data).")
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(help="Node home for this run, kept (default: a temp dir, removed after)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temp home (database, epochs, key, report).")
    ] = False,
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
    The temp home, operator key included, is removed at the end unless --keep (the --epochs
    report is then written beside it); a --home is kept.
    """
    temporary = home is None
    if home is not None and home.exists() and any(home.iterdir()):
        fail(f"--home {home} is not empty; a demo needs a fresh home")
    if data is not None and not data.is_file():
        fail(f"--data {data}: no such file")
    if data is not None:
        columns = [text_col] + ([label_col] if label_col else [])
        hint = " (name them with --text-col, --label-col)"
        run_or_exit(lambda: read_csv_rows(data, columns, hint=hint))
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="fairwheel-demo-"))
    if epochs is not None and report is None and temporary and not keep:
        report = home.with_name(home.name + "-market-report.html")  # outlives the home
    # A home that outlives the run gets a chain that does too (anvil, state in the home).
    chain_url = "embedded://" if temporary and not keep else "anvil://"
    try:
        _run_demo(home, data, text_col, label_col, limit, contributors, consumers, searches,
                  predictions, seed, embedder, epochs, report, chain_url)  # fmt: skip
    finally:
        if temporary and not keep:
            shutil.rmtree(home, ignore_errors=True)
            typer.echo(f"removed the demo's home {home} (--keep keeps it)")
        else:
            typer.echo(
                f"kept the demo's home {home}: its database, chain, epoch files and operator "
                f"key; inspect it with the node's verbs, e.g. FAIRWHEEL_HOME={home} "
                "fairwheel pool list"
            )


def _run_demo(
    home: Path,
    data: Path | None,
    text_col: str,
    label_col: str | None,
    limit: int | None,
    contributors: int,
    consumers: int,
    searches: int,
    predictions: int,
    seed: int,
    embedder: str,
    epochs: int | None,
    report: Path | None,
    chain_url: str,
) -> None:
    if epochs is not None:
        from fairwheel.sim.market import MarketConfig, run_market

        market = MarketConfig(home=home, epochs=epochs, data=data, text_col=text_col,
                              label_col=label_col, seed=seed, embedder_url=embedder,
                              report=report, chain_url=chain_url)  # fmt: skip
        outcome = run_or_exit(lambda: run_market(market))
        if not outcome.ok:
            fail(f"market checks failed: {[n for n, ok in outcome.checks.items() if not ok]}")
        return
    from fairwheel.sim.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        home=home, contributors=contributors, consumers=consumers, searches=searches,
        predictions=predictions, data=data, text_col=text_col, label_col=label_col,
        limit=limit, seed=seed, embedder_url=embedder, chain_url=chain_url,
    )  # fmt: skip
    result = run_or_exit(lambda: run_demo(cfg))
    if not result.ok:
        failed = [name for name, ok in result.checks.items() if not ok]
        fail(f"demo checks failed: {failed}")


def claim(
    pool: Annotated[int, typer.Argument(help="Pool id.")],
    account: Annotated[str, typer.Argument(help="The account to pay (0x…).")],
) -> None:
    """Claim an account's cumulative earnings on-chain (sent by the node's key, paid to ACCOUNT)."""
    address(account, "ACCOUNT")

    def work() -> int:
        with pool_node(pool) as node:
            return node.claim(pool, account, sender=node.operator)

    typer.echo(f"claimed {run_or_exit(work)} token units for {account}")


def earnings(account: Annotated[str, typer.Argument(help="Contributor or builder (0x…).")]) -> None:
    """Every paid use that earned ACCOUNT something: when, pool, kind, amount, records served."""
    address(account, "ACCOUNT")

    def work() -> list[EarningUse]:
        with open_node() as node:
            return node.earnings_of(account)

    for use in run_or_exit(work):
        typer.echo(json.dumps(use))


def settings() -> None:
    """Print the resolved settings (environment, FAIRWHEEL_CONFIG file, defaults)."""
    from fairwheel.config import load_settings

    typer.echo(run_or_exit(load_settings).model_dump_json(indent=1))


def version() -> None:
    """Print Fairwheel's version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("fairwheel"))
