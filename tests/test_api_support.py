"""Shared helpers of the API tests: a real uvicorn server on a free loopback port, and a world.

Imported by the ``test_api_*`` modules (it has no tests of its own). The server runs in a
thread of the test process on a socket bound to port 0, so there is no race for the port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.store_backends import node_database

PRICE_SEARCH = 1_000_003
PRICE_PREDICT = 2_000_011


@dataclass
class LiveServer:
    """A running server: its base URL, the node behind it and the app's context."""

    url: str
    node: Any
    app: Any
    server: Any = None

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx


@contextmanager
def live_server(node: Any, **config: Any) -> Iterator[LiveServer]:
    """Serve ``node`` on 127.0.0.1 at a free port until the block ends."""
    import uvicorn

    from fairwheel.api import ApiConfig, create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(node, ApiConfig(public_url=url, **config))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url, node, app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@dataclass
class World:
    """A node with one pool, a trained model, funded consumers, and its live server."""

    live: LiveServer
    pool_id: int
    examples: list[Any]
    accounts: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def node(self) -> Any:
        return self.live.node

    def client(self, name: str | None = None, *, login: bool = False) -> Any:
        from fairwheel.client import FairwheelClient

        client = FairwheelClient(self.url, self.accounts[name] if name else None)
        if login:
            client.login()
        return client

    def new_account(self, name: str, *, tokens: int = 0, deposit: int = 0) -> Any:
        """A fresh funded key; with ``deposit`` it also deposits into the pool's escrow."""
        node = self.node
        with self.live.ctx.use():
            account = node.chain.new_account()
            proto = node.protocol
            if tokens or deposit:
                proto.mint(account.address, max(tokens, deposit), sender=node.operator)
            if deposit:
                proto.approve(proto.addresses["UsageEscrow"], deposit, sender=account)
                proto.deposit(self.pool_id, deposit, sender=account)
        self.accounts[name] = account
        return account


@contextmanager
def make_world(home: Path, *, records: int = 48, **config: Any) -> Iterator[World]:
    """Open a node on the fake embedder, build a pool with a trained model, and serve it."""
    from fairwheel.config import load_settings
    from fairwheel.node import Node

    with node_database() as database:
        settings = load_settings(
            home=home, chain_url="embedded://", embedder_url="fake-hash://384", **database
        )
        yield from _serve_world(Node.open(settings), records, config)


def _serve_world(node: Any, records: int, config: dict[str, Any]) -> Iterator[World]:
    from fairwheel.sim.data import synthetic_support_queries
    from fairwheel.wallet import ContributorWallet

    try:
        examples = synthetic_support_queries(records, seed=5)
        pool = node.create_pool(
            "support",
            search_price=PRICE_SEARCH,
            predict_price=PRICE_PREDICT,
            operator_fee_bps=1000,
            builder_share_bps=2000,
            labels=sorted({e.label for e in examples}),
        )
        pid = int(pool["id"])
        seeders = [node.chain.new_account() for _ in range(2)]
        wallets = [ContributorWallet(a, node.consent_domain()) for a in seeders]
        now = node.chain.now()
        node.submit(
            pid,
            [
                wallets[i % 2].submission(pid, e.text, e.label, now=now)
                for i, e in enumerate(examples)
            ],
        )
        node.anchor(pid)
        builder = node.chain.new_account()
        node.train(pid, builder.address)
        config.setdefault("rate_per_second", 0)
        with live_server(node, **config) as live:
            world = World(
                live,
                pid,
                examples,
                {
                    "seeder0": seeders[0],
                    "seeder1": seeders[1],
                    "builder": builder,
                    "operator": node.operator,
                },
            )
            yield world
    finally:
        node.close()
