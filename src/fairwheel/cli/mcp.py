"""``fairwheel mcp``: serve the node as a paid MCP server (stdio or streamable HTTP).

The tools and how they are paid are :mod:`fairwheel.mcp_server`'s (docs/payments.md, "Paying
over MCP"). The ``mcp`` SDK is imported only when the command runs, so ``fairwheel --help``
stays fast. Over stdio, stdout carries the protocol: nothing else is printed there.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Literal

import typer

from fairwheel.cli._shared import fail, run_or_exit


def mcp(
    transport: Annotated[
        str,
        typer.Option(help="stdio (an agent spawns the server) or http (streamable HTTP, at /mcp)."),
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface for --transport http.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="TCP port for --transport http.", min=1, max=65535)
    ] = 8765,
    home: Annotated[
        Path | None,
        typer.Option(help="Node home (default: FAIRWHEEL_HOME, the settings, ~/.fairwheel)."),
    ] = None,
) -> None:
    """Serve the node's paid tools over MCP: list_pools, quote, search, predict.

    search and predict are paid per call with x402 over MCP: an unpaid call's error result is
    the PaymentRequired object; the PaymentPayload goes in the call's _meta["x402/payment"] and
    the answer's _meta["x402/payment-response"] says what was charged.
    """
    if transport not in ("stdio", "http"):
        fail(f"--transport must be stdio or http, not {transport!r}")
    kind: Literal["stdio", "streamable-http"] = (
        "stdio" if transport == "stdio" else "streamable-http"
    )

    def work() -> None:
        from fairwheel.config import load_settings
        from fairwheel.mcp_server import build_server
        from fairwheel.node import Node

        node = Node.open(load_settings(home=home))
        try:
            server = build_server(node, log_level="WARNING")
            if kind == "stdio":
                server.run("stdio")
            else:
                server.run("streamable-http", host=host, port=port)
        finally:
            node.close()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server
        run_or_exit(work)
