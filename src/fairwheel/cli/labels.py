"""``fairwheel labels …``: aggregate crowd answers from a CSV file.

numpy and scipy are imported inside the command, so ``fairwheel --help`` stays light.
"""

from __future__ import annotations

import csv
import operator
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from fairwheel.cli._shared import MAX_FIELD_CHARS, fail, text_file_problem
from fairwheel.errors import CsvError, FairwheelError

labels_app = typer.Typer(
    help="Labeling: aggregate crowd answers (Dawid–Skene, majority vote).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COLUMNS = ("task", "worker", "label")


@labels_app.callback()
def _labels() -> None:
    """Labeling: aggregate crowd answers (Dawid–Skene, majority vote)."""


class Method(StrEnum):
    """Aggregation methods."""

    auto = "auto"
    ds = "ds"
    hds = "hds"
    mace = "mace"
    mv = "mv"


def read_answers(path: Path) -> list[tuple[str, str, str]]:
    """Read ``task,worker,label`` rows (other columns are ignored).

    Header names are matched after trimming spaces, case-insensitively; values
    are trimmed. A UTF-8 byte-order mark is accepted.

    Args:
        path: The CSV file.

    Returns:
        The rows as ``(task, worker, label)``.

    Raises:
        CsvError: If the file is missing, empty, lacks a column, or has a row
            with an empty value.
    """
    problem = text_file_problem(path)
    if problem is not None:
        raise CsvError(problem)
    old_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise CsvError(f"{path}: empty file (expected a header task,worker,label)")
            names = [h.strip().lower() for h in header]
            missing = [c for c in COLUMNS if c not in names]
            if missing:
                raise CsvError(
                    f"{path}: missing column(s) {', '.join(missing)} "
                    f"(expected task,worker,label; found {','.join(header)})"
                )
            pick = operator.itemgetter(*(names.index(c) for c in COLUMNS))
            rows: list[tuple[str, str, str]] = []
            for line, rec in enumerate(reader, start=2):
                try:
                    t, w, lab = pick(rec)
                except IndexError:
                    if not rec:
                        continue  # blank line
                    raise CsvError(f"{path}, line {line}: too few fields") from None
                t, w, lab = t.strip(), w.strip(), lab.strip()
                if not (t and w and lab):
                    if not any(v.strip() for v in rec):
                        continue  # a line of empty fields
                    raise CsvError(f"{path}, line {line}: empty task, worker or label")
                rows.append((t, w, lab))
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not UTF-8 text ({exc.reason}): save it as UTF-8") from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise CsvError(f"{path}: a field is over {MAX_FIELD_CHARS:,} characters: fix the "
                           "quote that is never closed") from None  # fmt: skip
        raise CsvError(f"{path}: bad CSV ({exc})") from None
    finally:
        csv.field_size_limit(old_limit)
    if not rows:
        raise CsvError(f"{path}: no answers (only a header)")
    return rows


@labels_app.command("aggregate")
def aggregate_command(
    answers: Annotated[Path, typer.Argument(help="CSV with columns task,worker,label.")],
    out: Annotated[Path, typer.Option("--out", help="Write task,label,confidence here.")],
    workers_out: Annotated[
        Path | None, typer.Option("--workers-out", help="Write worker,accuracy,answers here.")
    ] = None,
    method: Annotated[
        Method,
        typer.Option(
            "--method",
            help="auto: ds or hds by held-out likelihood (default); ds: Dawid–Skene; "
            "hds: Dawid–Skene with a per-worker MACE prior; mace: MACE; mv: majority vote.",
        ),
    ] = Method.auto,
    max_iter: Annotated[int, typer.Option(min=0, help="ds, hds, mace: most EM iterations.")] = 100,
    tol: Annotated[
        float, typer.Option(min=0.0, help="ds, hds, mace: stop below this gain per answer.")
    ] = 1e-6,
) -> None:
    """Aggregate crowd answers into one label per task, with a confidence.

    The default, auto, fits Dawid–Skene and Dawid–Skene with a per-worker MACE prior
    and keeps the one whose held-out log-likelihood is higher (docs/labeling.md).

    Tasks are written in order of first appearance; ties go to the label that
    sorts first. Each worker's accuracy is estimated from their confusion
    matrix: sum over classes of prior × P(right | class).
    """
    from fairwheel.labeling.aggregate import Answers, dawid_skene, majority_vote
    from fairwheel.labeling.mace import hierarchical, mace
    from fairwheel.labeling.select import auto

    start = time.perf_counter()
    try:
        rows = read_answers(answers)
        encoded = Answers.from_rows(rows)
        if method is Method.auto:
            agg = auto(encoded)
        elif method is Method.ds:
            agg = dawid_skene(encoded, max_iter=max_iter, tol=tol)
        elif method is Method.hds:
            agg = hierarchical(encoded, max_iter=max_iter, tol=tol)
        elif method is Method.mace:
            agg = mace(encoded, max_iter=max_iter, tol=tol)
        else:
            agg = majority_vote(encoded)
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["task", "label", "confidence"])
            for i, task in enumerate(agg.tasks):
                writer.writerow([task, agg.label_of(i), f"{agg.confidence[i]:.6f}"])
        if workers_out is not None:
            with workers_out.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(["worker", "accuracy", "answers"])
                for w, worker in enumerate(agg.workers):
                    writer.writerow([worker, f"{agg.accuracy[w]:.6f}", int(agg.answers[w])])
    except CsvError as exc:
        fail(str(exc))
    except FairwheelError as exc:
        fail(f"{exc.code}: {exc.message}")
    except OSError as exc:
        fail(f"cannot write output: {exc}")
    took = time.perf_counter() - start
    note = "" if method is Method.mv else f", {agg.iterations} EM iterations"
    if method is Method.auto:
        note += f" (chose {agg.method})"
    if method is not Method.mv and not agg.converged:
        note += " (not converged: raise --max-iter)"
    typer.echo(
        f"{len(rows)} answers, {len(agg.tasks)} tasks, {len(agg.workers)} workers, "
        f"{len(agg.classes)} labels; {method.value}{note}; {took:.2f} s -> {out}"
    )
