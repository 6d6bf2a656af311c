"""CORS for browser apps on other origins (#16 item 6): configurable, preflight answered, the
x402 headers readable, and never credentials (the session cookie's CSRF defence stands)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from fairwheel.api.app import create_app
from fairwheel.config import ApiSettings
from fairwheel.node import Node

APP = "https://app.example"


def test_an_allowed_origin_gets_a_preflight_and_may_read_the_payment_headers(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory()
    client = TestClient(create_app(node, ApiSettings(cors_origins=(APP,), rate_per_second=0)))
    preflight = client.options(
        "/v1/pools/1/search",
        headers={"Origin": APP, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "payment-signature,content-type"},
    )  # fmt: skip
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == APP
    assert "payment-signature" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers
    answer = client.get("/v1/pools", headers={"Origin": APP})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == APP
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {"payment-required", "payment-response", "retry-after"} <= set(exposed.split(", "))
    other = client.get("/v1/pools", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    refused = client.options(
        "/v1/pools/1/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


def test_without_configured_origins_there_are_no_cors_headers(
    node_factory: Callable[..., Node],
) -> None:
    node = node_factory()
    client = TestClient(create_app(node, ApiSettings(rate_per_second=0)))
    answer = client.get("/v1/pools", headers={"Origin": APP})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
