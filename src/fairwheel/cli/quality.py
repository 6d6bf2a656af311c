"""``fairwheel quality``: the offline audit anyone can run on their own labelled text CSV.

Heavy libraries (the embedding model, scikit-learn, cleanlab) are imported inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fairwheel.cli._shared import (
    ProgressOption,
    fail,
    progress,
    run_or_exit,
    text_file_problem,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from fairwheel.quality.audit import AuditResult

_CHUNK = 256


class ChunkedEmbedder:
    """An embedder that embeds in chunks and reports ``(done, total)`` after each (the
    audit's progress: embedding is about half of its time)."""

    def __init__(self, model: Any, update: Callable[[int, int], None]) -> None:
        self.model = model
        self.update = update

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if len(texts) <= _CHUNK:
            out = self.model.embed(list(texts))
            self.update(len(texts), len(texts))
            return np.asarray(out)
        parts = []
        for start in range(0, len(texts), _CHUNK):
            parts.append(np.asarray(self.model.embed(list(texts[start : start + _CHUNK]))))
            self.update(min(start + _CHUNK, len(texts)), len(texts))
        return np.concatenate(parts)

quality_app = typer.Typer(
    help="Data quality: audit a labelled text CSV with the contribution gate's checks.",
    no_args_is_help=True,
)


@quality_app.callback()
def quality() -> None:
    """Data quality: audit a labelled text CSV with the contribution gate's checks."""


@quality_app.command("audit")
def audit_command(
    data: Annotated[Path, typer.Argument(help="A CSV file with a header row (UTF-8).")],
    out: Annotated[Path, typer.Option(help="Where to write the report CSV.")],
    text_col: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_col: Annotated[str, typer.Option(help="Column holding the label.")] = "label",
    contributor_col: Annotated[
        str | None,
        typer.Option(
            help="Optional column naming each row's contributor: rows of one "
            "contributor are not near duplicates of each other."
        ),
    ] = None,
    embedder: Annotated[
        str, typer.Option(help="Embedder URL (fake-hash://384 only for tests).")
    ] = "minilm://onnx",
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds for labels.")] = 5,
    label_model: Annotated[
        str, typer.Option(help="logreg (default) or centroid (faster, a little weaker).")
    ] = "logreg",
    lexical: Annotated[
        bool,
        typer.Option(
            "--lexical/--no-lexical",
            help="Blend TF-IDF probabilities into the label check (--no-lexical: the "
            "embedding alone, faster on large files).",
        ),
    ] = True,
    progress_bar: ProgressOption = None,
) -> None:
    """Write one row per input row: row, status, score, label_issue_score, duplicate_of, reasons.

    row and duplicate_of are 0-based indexes of data rows (the header is not counted).
    status is accepted, quarantined (kept for review) or rejected; a higher label_issue_score
    means the label is more likely wrong.

    Small files get the checks their size allows: the summary on stdout lists the checks that
    ran and those skipped or run in part with the data they need (also on stderr, one line
    each); the exit code is 0 whenever a report was written.
    """
    import dataclasses

    from fairwheel.quality.audit import AUDIT_POLICY, read_csv, run_audit, summary, write_report

    problem = text_file_problem(data)
    if problem is not None:
        fail(f"schema_error: {problem}")
    if not out.parent.is_dir():
        fail(f"{out.parent}: no such folder for the report")
    if label_model not in ("logreg", "centroid"):
        fail(f"--label-model must be logreg or centroid, not {label_model!r}")

    def work() -> AuditResult:
        from fairwheel.config import default_cache_dir
        from fairwheel.embed import open_embedder

        texts, labels = read_csv(data, text_col, label_col)
        contributors = None
        if contributor_col:
            contributors, _ = read_csv(data, contributor_col, None)
        policy = dataclasses.replace(
            AUDIT_POLICY,
            label=dataclasses.replace(
                AUDIT_POLICY.label, folds=folds, model=label_model, lexical=lexical
            ),
        )
        model = open_embedder(embedder, default_cache_dir())
        with progress("embedding rows", progress_bar) as update:
            result = run_audit(texts, labels, ChunkedEmbedder(model, update), policy,
                               contributors)  # fmt: skip
        write_report(result.rows, out)
        return result

    result = run_or_exit(work)
    for check in result.not_run:
        typer.echo(f"{check.status}: {check.name}: {check.detail}", err=True)
    typer.echo(json.dumps({**summary(result.rows, result.checks), "report": str(out)}, indent=1))
