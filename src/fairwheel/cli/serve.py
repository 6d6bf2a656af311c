"""``fairwheel serve``: the HTTP API and the web dashboard over one node (or N workers).

Everything heavy is imported inside the command, so ``fairwheel --help`` stays instant.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fairwheel.cli._shared import fail


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (default 8000).", min=1, max=65535)
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            help="Node home (default ~/.fairwheel, reopened across restarts). With "
            "--chain-url embedded:// it must be new or empty (default: a fresh temporary folder)."
        ),
    ] = None,
    chain_url: Annotated[
        str | None,
        typer.Option(
            help="anvil:// (default: a local chain kept in HOME/chain), embedded:// (in-process, "
            "gone when the server stops) or an http(s):// JSON-RPC node."
        ),
    ] = None,
    embedder: Annotated[
        str | None,
        typer.Option(help="Embedder URL (default minilm://onnx; fake-hash://384 for tests)."),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="URL people reach this server at; its host:port is the Sign-In with "
            "Ethereum domain (default http://HOST:PORT)."
        ),
    ] = None,
    dev: Annotated[
        bool | None,
        typer.Option(
            "--dev/--no-dev",
            help="Development mode: built-in TEST KEY wallets, /v1/dev routes, and a "
            "seeded demo pool on a fresh node.",
            show_default=False,
        ),
    ] = None,
    rate_limit: Annotated[
        float | None,
        typer.Option(help="Requests per second per client (0: off; default 50).", min=0),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="An origin whose browser apps may call the API (repeat for several; * for "
            "any). Default: same origin only."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="The store: sqlite:///PATH (default HOME/fairwheel.db) or "
            "postgresql://USER:PASSWORD@HOST:PORT/DB."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes. Above 1 they share one PostgreSQL database and the chain "
            "(docs/operations.md).",
            min=1,
        ),
    ] = 1,
    jobs: Annotated[
        bool,
        typer.Option(
            "--jobs/--no-jobs",
            help="Run the background jobs (anchor, rescore, retrain, close epochs on schedule) "
            "in this process, as fairwheel worker does.",
        ),
    ] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the node's HTTP API (/v1, OpenAPI at /openapi.json) and its web dashboard (/).

    Every option falls back to FAIRWHEEL_* and the FAIRWHEEL_CONFIG file (its [fairwheel.api]
    table for the HTTP options), like every other verb. On the default chain (anvil://) the
    server reopens its home with everything it had; an embedded chain lives only inside this
    server process, so each start on one needs a fresh home.
    """
    import uvicorn

    from fairwheel.api.app import create_app
    from fairwheel.api.workers import (
        check_workers,
        exit_cleanly_on_sigterm,
        serve_workers,
        start_jobs,
    )
    from fairwheel.config import configured, load_settings, redact_url
    from fairwheel.errors import FairwheelError
    from fairwheel.node import Node

    flags = {
        "chain_url": chain_url,
        "database_url": database_url,
        "embedder_url": embedder,
        "api": {"host": host, "port": port, "public_url": public_url, "dev": dev,
                "rate_per_second": rate_limit,
                "cors_origins": tuple(cors_origin) if cors_origin else None},
    }  # fmt: skip
    if jobs:  # the rescore job rescores grown pools: submissions need not wait for it
        flags["jobs"] = {"inline_rescore": False}
    try:
        settings = load_settings(home=home, **flags)
        check_workers(settings, workers)
        if settings.chain_url.startswith("embedded://"):
            if home is None and not configured("home"):
                home = Path(tempfile.mkdtemp(prefix="fairwheel-serve-"))
                settings = load_settings(home=home, **flags)
            if settings.home.exists() and any(settings.home.iterdir()):
                fail(
                    f"home {settings.home} is not empty; an embedded chain needs a fresh home "
                    "(or use --chain-url http://… for a persistent node)"
                )
        node = Node.open(settings)
    except FairwheelError as exc:
        fail(f"{exc.code}: {exc.message}")
    config = settings.api
    stop_jobs: Callable[[], None] | None = None
    try:
        if config.dev and not node.queries.pools():
            from fairwheel.api.dev import dev_keys, seed

            node.testchain.require_test_chain()
            typer.echo("dev: seeding a demo pool with TEST KEY wallets …")
            seed(node, dev_keys(node))
        url = config.public_url
        typer.echo(f"Fairwheel node at {url}  (dashboard /, API /v1, OpenAPI /openapi.json)")
        operator = node.operator.address
        typer.echo(f"home {settings.home}; chain {settings.chain_url}; operator {operator}")
        if config.dev:
            typer.echo("DEV MODE: the built-in wallets use TEST KEYS that anyone can read.")
        if settings.chain_url.startswith("embedded://"):
            typer.echo(
                "The embedded chain lives only in this process; it ends when the server stops."
            )
        exit_cleanly_on_sigterm()  # so that the finally below closes the node
        if workers > 1:
            typer.echo(f"{workers} workers over {redact_url(settings.database_url)}")
            # The parent's node serves no request: its jobs need no lock.
            stop_jobs = start_jobs(node, None) if jobs else None
            serve_workers(node, settings, workers, log_level)
        else:
            app = create_app(node, config)
            # One process: a job takes the API's node lock, as every request does.
            stop_jobs = start_jobs(node, app.state.ctx.lock) if jobs else None
            uvicorn.run(app, host=config.host, port=config.port, log_level=log_level)
    except FairwheelError as exc:
        fail(f"{exc.code}: {exc.message}")
    finally:
        if stop_jobs is not None:
            stop_jobs()
        node.close()
