"""``fairwheel models …`` and ``fairwheel export …``: the loop on a node's own home.

These open the node at ``FAIRWHEEL_HOME`` (a persistent chain: ``chain_url=http://…``); the
same actions over HTTP are ``fairwheel remote versions|rollback``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fairwheel.cli._shared import ProgressOption, address, pool_node, run_or_exit, working

models_app = typer.Typer(
    help="Model versions: list, roll back, promote, retrain.", no_args_is_help=True
)
export_app = typer.Typer(
    help="A pool's exports: training set (Parquet), preference pairs.", no_args_is_help=True
)
Pool = Annotated[int, typer.Argument(help="Pool id.")]


@models_app.command("list")
def models_list(pool: Pool) -> None:
    """Every version with its metrics, report, serving state and revoked records."""

    def work() -> list[dict[str, object]]:
        with pool_node(pool) as node:
            return node.model_versions(pool)

    for version in run_or_exit(work):
        typer.echo(json.dumps(version, default=str))


@models_app.command("rollback")
def models_rollback(pool: Pool) -> None:
    """Serve the previously promoted version again."""

    def work() -> dict[str, object]:
        with pool_node(pool) as node:
            back = node.rollback(pool)
            return {"serving_model": back["id"], "version": back["version"]}

    typer.echo(json.dumps(run_or_exit(work)))


@models_app.command("promote")
def models_promote(pool: Pool, model: Annotated[int, typer.Argument(help="Model id.")]) -> None:
    """Serve a kept version despite its report."""

    def work() -> None:
        with pool_node(pool) as node:
            node.promote(pool, model)

    run_or_exit(work)
    typer.echo(json.dumps({"serving_model": model}))


@models_app.command("retrain")
def models_retrain(
    pool: Pool,
    builder: Annotated[str, typer.Option(help="The builder credited (0x…).")],
    force: Annotated[bool, typer.Option(help="Train even if nothing calls for it.")] = False,
    progress_bar: ProgressOption = None,
) -> None:
    """Retrain if new data, feedback drift or a revocation calls for it (or --force)."""

    address(builder, "--builder")

    def work() -> dict[str, object] | None:
        with pool_node(pool) as node, working(f"training pool {pool}'s model", progress_bar):
            if force:
                return node.train(pool, builder)
            return node.upkeep(pool, builder)

    new = run_or_exit(work)
    typer.echo(json.dumps(None if new is None else
                          {k: new[k] for k in ("id", "version", "trigger", "promoted", "report")},
                          default=str))  # fmt: skip


@export_app.command("training")
def export_training(pool: Pool, out: Annotated[Path, typer.Option(help="Parquet file.")]) -> None:
    """The pool's consented, licence-permitting records with provenance columns."""

    def work() -> int:
        with pool_node(pool) as node:
            return node.export_training(pool, out)

    typer.echo(f"{run_or_exit(work)} records written to {out}")


@export_app.command("preferences")
def export_preferences(pool: Pool, out: Annotated[Path, typer.Option(help="JSONL file.")]) -> None:
    """Arena votes as preference pairs: prompt, chosen, rejected, provenance."""

    def work() -> int:
        with pool_node(pool) as node:
            return node.export_preferences(pool, out)

    typer.echo(f"{run_or_exit(work)} pairs written to {out}")
