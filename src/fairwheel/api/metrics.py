"""Prometheus metrics of one API server (its own registry, so several apps can share a process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fairwheel.api.context import ApiContext

__all__ = ["ApiMetrics"]


class ApiMetrics:
    """Counters the routes update, plus pool gauges read from the node at scrape time."""

    def __init__(self, ctx: ApiContext) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.ctx = ctx
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fairwheel_http_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fairwheel_http_request_seconds",
            "HTTP request latency.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.paid_calls = Counter(
            "fairwheel_paid_calls", "Paid calls served.", ["pool", "kind"], registry=self.registry
        )
        self.revenue = Counter(
            "fairwheel_revenue_units",
            "Token base units paid by consumers (approximate float).",
            ["pool"],
            registry=self.registry,
        )
        self.contributions = Counter(
            "fairwheel_contributions",
            "Submitted records by verdict.",
            ["pool", "status"],
            registry=self.registry,
        )
        self.logins = Counter(
            "fairwheel_logins",
            "Sign-In with Ethereum attempts.",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(ctx))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _PoolCollector:
    """Records by status, index size and epochs per pool, read under the node's lock."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def describe(self) -> list[Any]:
        return []  # collected lazily: nothing to describe up front

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        records = GaugeMetricFamily(
            "fairwheel_pool_records", "Records by status.", labels=["pool", "status"]
        )
        epochs = GaugeMetricFamily("fairwheel_pool_epochs", "Closed epochs.", labels=["pool"])
        sessions = GaugeMetricFamily("fairwheel_api_sessions", "Live API sessions.")
        sessions.add_metric([], len(self.ctx.state.sessions))
        # Never let a scrape wait long behind a slow node call.
        if self.ctx.lock.acquire(timeout=2):
            try:
                queries = self.ctx.node.queries
                for pool in queries.pools():
                    pid = str(pool["id"])
                    for status, n in queries.status_counts(int(pool["id"])).items():
                        records.add_metric([pid, status], n)
                    epochs.add_metric([pid], queries.epoch_count(int(pool["id"])))
            finally:
                self.ctx.lock.release()
        yield records
        yield epochs
        yield sessions
