"""``fairwheel serve`` (the HTTP API and dashboard) and ``fairwheel remote …`` (a node by URL).

Register with::

    from fairwheel.api.cli import remote_app, serve
    app.command("serve")(serve)
    app.add_typer(remote_app, name="remote")

Everything heavy is imported inside the commands, so ``fairwheel --help`` stays instant.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["remote_app", "serve"]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


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
                raise _fail(
                    f"home {settings.home} is not empty; an embedded chain needs a fresh home "
                    "(or use --chain-url http://… for a persistent node)"
                )
        node = Node.open(settings)
    except FairwheelError as exc:
        raise _fail(f"{exc.code}: {exc.message}") from None
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
        raise _fail(f"{exc.code}: {exc.message}") from None
    finally:
        if stop_jobs is not None:
            stop_jobs()
        node.close()


# ------------------------------------------------------------------- remote mode

remote_app = typer.Typer(
    help="Talk to a Fairwheel node by URL; signing happens here with your key.",
    no_args_is_help=True,
)


@remote_app.callback()
def _remote(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option(envvar="FAIRWHEEL_URL", help="The node's base URL.")
    ] = "http://127.0.0.1:8000",
    key_file: Annotated[
        Path | None,
        typer.Option(help="File with your private key (0x hex); or set FAIRWHEEL_KEY."),
    ] = None,
) -> None:
    # The remote user's own key, not a node setting: `remote` talks to a node over HTTP and
    # never builds Settings (a node's config must not hold, print or ship a user's key).
    key = os.environ.get("FAIRWHEEL_KEY")
    if key_file is not None:
        key = key_file.read_text().strip()
    ctx.obj = {"url": url, "key": key}


def _client(ctx: typer.Context, *, login: bool = False) -> Any:
    from eth_account import Account

    from fairwheel.client import FairwheelClient

    key = ctx.obj["key"]
    if login and not key:
        raise _fail("this command signs: give --key-file or set FAIRWHEEL_KEY")
    client = FairwheelClient(ctx.obj["url"], Account.from_key(key) if key else None)
    if login:
        client.login()
    return client


def _run(ctx: typer.Context, action: Any, *, login: bool = False) -> None:
    from fairwheel.errors import FairwheelError

    try:
        with _client(ctx, login=login) as client:
            typer.echo(json.dumps(action(client), indent=1, default=str))
    except FairwheelError as exc:
        raise _fail(f"{exc.code}: {exc.message}") from None
    except OSError as exc:
        raise _fail(f"cannot reach {ctx.obj['url']}: {exc}") from None


@remote_app.command("health")
def remote_health(ctx: typer.Context) -> None:
    """The node's health."""
    _run(ctx, lambda c: c.health())


@remote_app.command("pools")
def remote_pools(ctx: typer.Context) -> None:
    """Every pool with its prices."""
    _run(ctx, lambda c: c.pools())


@remote_app.command("stats")
def remote_stats(ctx: typer.Context, pool: int) -> None:
    """A pool's records by status, index size, calls, revenue."""
    _run(ctx, lambda c: c.pool_stats(pool))


@remote_app.command("submit")
def remote_submit(
    ctx: typer.Context, pool: int, csv_file: Path, text_col: str = "text", label_col: str = "label"
) -> None:
    """Sign consent for each row of a CSV locally and submit (streamed)."""
    import csv

    with csv_file.open(newline="") as fh:
        rows = [(r[text_col], r.get(label_col) or None) for r in csv.DictReader(fh)]
    _run(ctx, lambda c: c.submit_stream(pool, rows), login=True)


@remote_app.command("records")
def remote_records(ctx: typer.Context, pool: int | None = None) -> None:
    """Your records with status, score and reasons."""
    _run(ctx, lambda c: c.my_records(pool), login=True)


@remote_app.command("earnings")
def remote_earnings(ctx: typer.Context) -> None:
    """Every use of your data and what it earned."""
    _run(ctx, lambda c: c.earnings(), login=True)


@remote_app.command("search")
def remote_search(ctx: typer.Context, pool: int, query: str, k: int = 5) -> None:
    """A paid search (signs the voucher locally)."""
    _run(ctx, lambda c: c.search(pool, query, k))


@remote_app.command("predict")
def remote_predict(ctx: typer.Context, pool: int, text: str) -> None:
    """A paid prediction (signs the voucher locally)."""
    _run(ctx, lambda c: c.predict(pool, text))


@remote_app.command("epochs")
def remote_epochs(ctx: typer.Context, pool: int) -> None:
    """A pool's closed epochs."""
    _run(ctx, lambda c: c.epochs(pool))


@remote_app.command("claim-proof")
def remote_claim_proof(ctx: typer.Context, pool: int, account: str | None = None) -> None:
    """The leaf and proof to claim with (your account by default)."""
    _run(ctx, lambda c: c.claim_proof(pool, account), login=account is None)


@remote_app.command("review")
def remote_review(
    ctx: typer.Context,
    pool: int,
    release: Annotated[int | None, typer.Option(help="Accept this quarantined record.")] = None,
    quarantine: Annotated[int | None, typer.Option(help="Quarantine this record.")] = None,
    note: str = "",
) -> None:
    """The pool's quarantine queue, or a decision on one record (the operator's key only)."""
    if release is not None and quarantine is not None:
        raise _fail("give --release or --quarantine, not both")
    if release is not None:
        _run(ctx, lambda c: c.review(release, "release", note), login=True)
    elif quarantine is not None:
        _run(ctx, lambda c: c.review(quarantine, "quarantine", note), login=True)
    else:
        _run(ctx, lambda c: c.review_queue(pool), login=True)


@remote_app.command("reputation")
def remote_reputation(ctx: typer.Context, pool: int, account: str | None = None) -> None:
    """A contributor's standing and slash evidence (your account by default)."""
    _run(ctx, lambda c: c.reputation(pool, account), login=account is None)


@remote_app.command("versions")
def remote_versions(ctx: typer.Context, pool: int) -> None:
    """Model versions: metrics, promotion report, serving, arena record, revoked records."""
    _run(ctx, lambda c: c.versions(pool))


@remote_app.command("rollback")
def remote_rollback(ctx: typer.Context, pool: int) -> None:
    """Serve the previously promoted model version again (the operator's key only)."""
    _run(ctx, lambda c: c.rollback(pool), login=True)


@remote_app.command("revocation-status")
def remote_revocation_status(ctx: typer.Context, record: int) -> None:
    """Each step of your record's revocation so far."""
    _run(ctx, lambda c: c.revocation_status(record), login=True)


@remote_app.command("export-mine")
def remote_export_mine(ctx: typer.Context) -> None:
    """Everything you contributed, decrypted: keep a copy before you revoke."""
    _run(ctx, lambda c: c.my_export(), login=True)


@remote_app.command("close-epoch")
def remote_close_epoch(ctx: typer.Context, pool: int) -> None:
    """Close the pool's epoch (the operator's key only)."""
    _run(ctx, lambda c: c.close_epoch(pool), login=True)
