"""``fairwheel serve --workers N``: N server processes over one PostgreSQL database and one chain.

The parent process opens the node once — it migrates the database, starts the home's local
chain (``anvil://``) or checks the remote one, and deploys or attaches the contracts — and keeps
it open while the workers run, so the local chain lives as long as the server. Each worker is a
uvicorn process that opens its own node on the same settings, with two differences: the chain
is the parent's JSON-RPC endpoint (a worker must not start a second anvil on the home's state)
and the vector indexes live in a folder of the worker's own (two processes must not write one
index file); a worker rebuilds them from the database, and follows it: every call compares the
index's generation with the database's, so a record revoked through one worker is unservable
on every worker from its next call.

What the workers share is in the database: the ledger and vouchers (appends serialise on a
store lock: 20 requests carrying one voucher to different workers are served once), sessions,
login nonces and idempotency records. Rate limits are per worker.
"""

from __future__ import annotations

import atexit
import os
import shutil
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairwheel.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fairwheel.config import Settings
    from fairwheel.node import Node

__all__ = [
    "SETTINGS_ENV",
    "app",
    "check_workers",
    "exit_cleanly_on_sigterm",
    "serve_workers",
    "start_jobs",
    "worker_settings",
]

SETTINGS_ENV = "FAIRWHEEL_WORKER_SETTINGS"
"""The environment variable that hands a worker its settings (JSON, written by the parent)."""


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM exit through ``finally`` blocks and ``atexit``.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again under the handler
    it found; Python's default one kills the process on the spot, so the node would not close
    (its local anvil left running, its indexes unsaved). This handler exits like ``sys.exit``.
    """
    import signal

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _exit)


def _workers_folder(settings: Settings) -> Path:
    return settings.home / "index" / "workers"


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse settings that several worker processes cannot share.

    Raises:
        ConfigError: ``workers`` below 1; several workers on SQLite or on the embedded chain.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if workers == 1:
        return
    if not settings.database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"--workers {workers} needs a database every worker can share: set "
            "--database-url postgresql://USER:PASSWORD@HOST:PORT/DB (SQLite serves one worker)"
        )
    if settings.chain_url.startswith("embedded://"):
        raise ConfigError(
            f"--workers {workers} needs a chain outside the server process: the default "
            "anvil://, or --chain-url http://… (the embedded chain lives in one process)"
        )


def worker_settings(settings: Settings, rpc_url: str, workers: int = 1) -> Settings:
    """The settings of one worker: the parent's chain endpoint, an index folder of its own (the
    ``{pid}`` placeholder, filled in by :func:`app`), and its share of the cores for the ONNX
    embedder (ONNX Runtime takes every core per process by default, so N workers would fight
    over them; an explicit ``?threads=`` in the URL is kept)."""
    folder = _workers_folder(settings) / "{pid}"
    update = {"chain_url": rpc_url, "index_url": f"hnsw://{folder}"}
    embedder = "minilm://onnx" if settings.embedder_url == "minilm://" else settings.embedder_url
    if embedder.split("?")[0] == "minilm://onnx" and "threads=" not in embedder:
        share = max(1, (os.cpu_count() or 1) // workers)
        update["embedder_url"] = f"{embedder}{'&' if '?' in embedder else '?'}threads={share}"
    return settings.model_copy(update=update)


def app() -> FastAPI:
    """The uvicorn factory each worker process calls: open the node, build the app."""
    from fairwheel.api.app import create_app
    from fairwheel.config import Settings
    from fairwheel.node import Node

    # The bootstrap of a worker process, before any Settings exist: the parent's resolved
    # settings, handed over as JSON (uvicorn starts workers by import string, no arguments).
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise ConfigError(f"{SETTINGS_ENV} is not set: start workers with fairwheel serve")
    settings = Settings.model_validate_json(raw)
    index_url = settings.index_url.replace("{pid}", str(os.getpid()))
    settings = settings.model_copy(update={"index_url": index_url})
    node = Node.open(settings)
    atexit.register(_close_worker, node, Path(index_url.removeprefix("hnsw://")))
    exit_cleanly_on_sigterm()
    return create_app(node, settings.api)


def _close_worker(node: Node, index_folder: Path) -> None:
    try:
        node.close()
    finally:  # the worker's index copy is derived data: the next worker rebuilds its own
        shutil.rmtree(index_folder, ignore_errors=True)


def serve_workers(node: Node, settings: Settings, workers: int, log_level: str) -> None:
    """Run ``workers`` uvicorn processes for ``node`` (open in this, the parent, process).

    Raises:
        ConfigError: The chain cannot be reached from another process.
    """
    import uvicorn

    rpc_url = node.onchain.rpc_url
    if rpc_url is None:
        raise ConfigError("the embedded chain cannot be shared with worker processes")
    # Copies left by workers that were killed: derived data, rebuilt by the next workers.
    shutil.rmtree(_workers_folder(settings), ignore_errors=True)
    os.environ[SETTINGS_ENV] = worker_settings(settings, rpc_url, workers).model_dump_json()
    config = settings.api
    uvicorn.run(
        "fairwheel.api.workers:app",
        factory=True,
        host=config.host,
        port=config.port,
        workers=workers,
        log_level=log_level,
    )


def start_jobs(node: Node, lock: threading.RLock | None) -> Callable[[], None]:
    """Run the node's background jobs in a daemon thread; returns the function that stops it.

    Args:
        node: The node whose jobs run.
        lock: Held around each job (the API's node lock when requests share the node).
    """
    stop = threading.Event()
    guard: Callable[[], AbstractContextManager[Any]] = (
        nullcontext if lock is None else (lambda: lock)
    )
    thread = threading.Thread(
        target=node.jobs.run_until, args=(stop, guard), name="fairwheel-jobs", daemon=True
    )
    thread.start()

    def stop_jobs() -> None:
        stop.set()
        thread.join(timeout=60)  # a job in flight finishes (its lease would expire anyway)

    return stop_jobs
