"""``fairwheel worker``: run the node's background jobs (anchor, rescore, retrain, close).

Every job runs under a lease in the node's database, so several workers (or a worker and
``fairwheel serve``, which runs the same jobs unless ``--no-jobs``) never run one job twice at
once. A worker opens the node like every other verb; on the default chain (``anvil://``) only
one process can have a home open, so there the jobs run inside ``serve`` and a separate worker
is for nodes on a shared database and an RPC chain (docs/operations.md).
"""

from __future__ import annotations

import json
import threading
from typing import Annotated

import typer

from fairwheel.cli._shared import open_node, run_or_exit


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run one pass over the jobs and exit.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Print each job's last run and exit.")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            help="Seconds between passes (default: the jobs.interval setting, 60).", min=0.1
        ),
    ] = None,
) -> None:
    """Run the background jobs: anchor pending records, rescore grown pools, retrain after
    revocations or new data, close epochs on schedule (and early past jobs.redeem_threshold).

    Prints one JSON line per job and pass: {"job", "pool_id", "status", "detail"}; status is
    ran, idle (nothing to do), busy (another runner holds its lease) or failed (retried next
    pass). Runs until interrupted unless --once.
    """

    def work() -> None:
        with open_node() as node:
            if status:
                for run in node.jobs.runs():
                    typer.echo(json.dumps(run))
                return
            if once:
                for outcome in node.jobs.run_pass():
                    typer.echo(json.dumps(outcome.as_dict()))
                return
            node.jobs.run_until(
                threading.Event(),
                report=lambda o: typer.echo(json.dumps(o.as_dict())),
                interval=interval,
            )

    run_or_exit(work)  # Ctrl-C stops it; a job cut short gives its lease back, runs next time
