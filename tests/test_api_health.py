"""``GET /v1/health`` checks each part with a real call and answers 503 with the failing part's
reason (never a 500) — here with the default local chain stopped under a running app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fairwheel.api.app import create_app
from fairwheel.chain.local import find_anvil
from fairwheel.config import load_settings
from fairwheel.node import Node

pytestmark = pytest.mark.skipif(find_anvil() is None, reason="anvil missing: ./scripts/setup.sh")


def test_health_reports_each_part_and_a_dead_chain_is_a_503(tmp_path: Path) -> None:
    node = Node.open(load_settings(home=tmp_path, embedder_url="fake-hash://16"))
    try:
        client = TestClient(create_app(node, metrics=False))
        healthy = client.get("/v1/health")
        assert healthy.status_code == 200
        body = healthy.json()
        assert body["status"] == "ok" and body["block"] >= 1
        assert {k: v["ok"] for k, v in body["checks"].items()} == {
            "chain": True, "database": True, "index": True,
        }  # fmt: skip
        local = node.chain._local
        assert local is not None
        local._stop_process()  # the chain goes down under the running app
        down = client.get("/v1/health")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unavailable" and body["block"] is None
        assert not body["checks"]["chain"]["ok"] and body["checks"]["database"]["ok"]
        assert body["checks"]["chain"]["detail"].startswith("chain_error: chain node 127.0.0.1:")
        assert "http://" not in down.text  # an RPC URL may carry a provider's key
        account = client.get("/v1/chain/accounts/0x" + "ab" * 20)  # any route that reads it
        assert account.status_code == 502 and account.json()["code"] == "chain_error"
    finally:
        node.close()
