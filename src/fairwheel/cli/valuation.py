"""``fairwheel value``: exact KNN-Shapley values of a labelled training CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

from fairwheel.cli._shared import read_csv_rows, run_or_exit
from fairwheel.errors import SchemaError


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a UTF-8 CSV with a ``label`` column.

    Raises:
        CsvError: unreadable, not UTF-8, not CSV, a field over the limit, no label column.
        SchemaError: no data rows.
    """
    header, rows = read_csv_rows(path, ["label"], hint=" (value needs a label column)")
    if not rows:
        raise SchemaError(f"{path} has no rows: give at least one labelled row")
    return [h.strip() for h in header], [row for _, row in rows]


def load_features(
    train: Path, valid: Path, embedder_url: str, cache_dir: Path
) -> tuple[Any, Any, Any, Any, str]:
    """Features and labels of both files, and the default metric for their kind.

    A ``text`` column is embedded; otherwise every column but ``label`` must be numeric.

    Raises:
        SchemaError: a missing column, a non-numeric feature, or files that differ in columns.
    """
    import numpy as np

    train_cols, train_rows = _read(train)
    valid_cols, valid_rows = _read(valid)
    y_train = np.asarray([r["label"] for r in train_rows])
    y_valid = np.asarray([r["label"] for r in valid_rows])
    if "text" in train_cols:
        if "text" not in valid_cols:
            raise SchemaError(f"{train} has a text column but {valid} does not")
        from fairwheel.embed import open_embedder

        embedder = open_embedder(embedder_url, cache_dir)
        x_train = embedder.embed([r["text"] for r in train_rows])
        x_valid = embedder.embed([r["text"] for r in valid_rows])
        return x_train, y_train, x_valid, y_valid, "cosine"
    features = [c for c in train_cols if c != "label"]
    if not features or sorted(features) != sorted(c for c in valid_cols if c != "label"):
        raise SchemaError(
            f"both files need the same numeric feature columns (or a text column); "
            f"{train} has {features}"
        )

    def matrix(rows: list[dict[str, str]], name: Path) -> Any:
        try:
            return np.asarray([[float(r[c]) for c in features] for r in rows], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{name}: feature columns must be numeric ({exc})") from exc

    return matrix(train_rows, train), y_train, matrix(valid_rows, valid), y_valid, "euclidean"


def value(
    train: Annotated[Path, typer.Argument(help="Training CSV: label + features or text.")],
    valid: Annotated[Path, typer.Option("--valid", help="Validation CSV, same columns.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write row,value.")],
    k: Annotated[int, typer.Option("--k", min=1, help="Neighbours K.")] = 5,
    metric: Annotated[
        str | None, typer.Option(help="euclidean or cosine (default: by data kind).")
    ] = None,
    embedder: Annotated[str, typer.Option(help="Embedder URL for text.")] = "minilm://onnx",
) -> None:
    """Exact KNN-Shapley value of every training row (Jia et al., VLDB 2019)."""
    from fairwheel.config import load_settings

    def work() -> int:
        from fairwheel.valuation import knn_shapley_classification

        cache = load_settings().cache_dir
        x_train, y_train, x_valid, y_valid, default_metric = load_features(
            train, valid, embedder, cache
        )
        chosen = metric or default_metric
        if chosen not in ("euclidean", "cosine"):
            raise SchemaError(f"--metric must be euclidean or cosine, not {chosen!r}")
        values = knn_shapley_classification(x_train, y_train, x_valid, y_valid, k=k, metric=chosen)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "value"])
            for row, v in enumerate(values):
                writer.writerow([row, repr(float(v))])
        return len(values)

    count = run_or_exit(work)
    typer.echo(f"wrote {count} values to {out}")
