"""The ``fairwheel`` command line. Heavy libraries are imported inside commands,
so ``fairwheel --help`` is instant."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from fairwheel.errors import FairwheelError

app = typer.Typer(
    name="fairwheel",
    help="Fairwheel: a data flywheel that pays contributors for every use of their data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
epoch_app = typer.Typer(help="Epoch settlement files.", no_args_is_help=True)
app.add_typer(epoch_app, name="epoch")


@app.command()
def demo(
    data: Annotated[
        Path | None, typer.Option(help="CSV with text,label columns (default: synthetic data).")
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="Node home for this run (default: a fresh temp dir).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Use at most this many rows of --data.")] = None,
    contributors: Annotated[int, typer.Option(min=3)] = 12,
    consumers: Annotated[int, typer.Option(min=1)] = 3,
    searches: Annotated[int, typer.Option(min=1)] = 30,
    predictions: Annotated[int, typer.Option(min=0)] = 30,
    seed: int = 7,
    embedder: Annotated[str, typer.Option(help="Embedder URL.")] = "minilm://onnx",
) -> None:
    """Run one full turn of the flywheel on the embedded defaults and check it."""
    from fairwheel.sim.demo import DemoConfig, run_demo

    if home is None:
        home = Path(tempfile.mkdtemp(prefix="fairwheel-demo-"))
    elif home.exists() and any(home.iterdir()):
        _fail(f"--home {home} is not empty; the embedded chain needs a fresh home")
    if data is not None and not data.is_file():
        _fail(f"--data {data}: no such file")
    cfg = DemoConfig(
        home=home, contributors=contributors, consumers=consumers, searches=searches,
        predictions=predictions, data=data, limit=limit, seed=seed, embedder_url=embedder,
    )  # fmt: skip
    result = _run(lambda: run_demo(cfg))
    if not result.ok:
        failed = [name for name, ok in result.checks.items() if not ok]
        _fail(f"demo checks failed: {failed}")


@epoch_app.command("check")
def epoch_check(
    file: Annotated[Path, typer.Argument(help="A published epoch file (.jsonl).")],
) -> None:
    """Recompute an epoch's root from its published file alone and print it."""
    from fairwheel.settlement.epoch import verify_epoch_file

    check = _run(lambda: verify_epoch_file(file))
    typer.echo(json.dumps(check.__dict__, indent=1))


@app.command()
def settings() -> None:
    """Print the resolved settings (environment, FAIRWHEEL_CONFIG file, defaults)."""
    from fairwheel.config import load_settings

    typer.echo(_run(load_settings).model_dump_json(indent=1))


@app.command()
def version() -> None:
    """Print Fairwheel's version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("fairwheel"))


def _run(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except FairwheelError as exc:
        _fail(f"{exc.code}: {exc.message}")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``fairwheel`` script."""
    app(prog_name="fairwheel")


if __name__ == "__main__":
    sys.exit(main())
