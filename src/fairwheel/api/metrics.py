"""Prometheus metrics of one API server (its own registry, so several apps can share a process)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fairwheel.api.context import ApiContext

__all__ = ["ApiMetrics"]

log = logging.getLogger(__name__)


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
    """Gauges read from the node at scrape time, under its lock.

    Per pool: records by status, closed epochs, accepted records waiting to be anchored, and
    the value of accepted vouchers not yet redeemed on-chain (each payer's latest cumulative
    amount less what the escrow says is redeemed). For the node: whether the chain and the
    database answered this scrape, and the chain's height. A part that fails is reported as
    down and its gauges are left out; a scrape never fails for it.
    """

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def describe(self) -> list[Any]:
        return []  # collected lazily: nothing to describe up front

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        def pool_gauge(name: str, text: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, text, labels=["pool", *labels])

        records = pool_gauge("fairwheel_pool_records", "Records by status.", "status")
        epochs = pool_gauge("fairwheel_pool_epochs", "Closed epochs.")
        pending = pool_gauge(
            "fairwheel_pool_pending_anchors", "Accepted records not yet in an anchored batch."
        )
        unredeemed = pool_gauge(
            "fairwheel_pool_unredeemed_voucher_units",
            "Accepted vouchers not yet redeemed on-chain, in token base units (approximate float).",
        )
        chain_up = GaugeMetricFamily("fairwheel_chain_up", "1 if the chain answered this scrape.")
        database_up = GaugeMetricFamily(
            "fairwheel_database_up", "1 if the database answered this scrape."
        )
        height = GaugeMetricFamily("fairwheel_chain_height", "The chain's latest block number.")
        sessions = GaugeMetricFamily("fairwheel_api_sessions", "Live API sessions.")
        lag = GaugeMetricFamily(
            "fairwheel_job_lag_seconds",
            "Seconds since each background job last finished without failing (node.jobs).",
            labels=["job", "pool"],
        )
        failures = GaugeMetricFamily(
            "fairwheel_job_failures", "Failed runs of each background job so far.",
            labels=["job", "pool"],
        )  # fmt: skip
        # Never let a scrape wait long behind a slow node call.
        if self.ctx.lock.acquire(timeout=2):
            try:
                up = self._read(records, epochs, pending, unredeemed, height)
                if up["database"]:
                    with contextlib.suppress(Exception):  # sessions are a table too
                        sessions.add_metric([], len(self.ctx.state.sessions))
                    with contextlib.suppress(Exception):
                        self._jobs(lag, failures)
            finally:
                self.ctx.lock.release()
            chain_up.add_metric([], float(up["chain"]))
            database_up.add_metric([], float(up["database"]))
            yield from (chain_up, database_up, height)
        yield from (records, epochs, pending, unredeemed, sessions, lag, failures)

    def _jobs(self, lag: Any, failures: Any) -> None:
        now = time.time()
        for run in self.ctx.node.jobs.runs():
            job, _, pool = run["name"].partition(":")
            since = run["last_ok"] or run["started"]  # never succeeded: since its last try
            lag.add_metric([job, pool], max(0.0, now - since))
            failures.add_metric([job, pool], run["failures"])

    def _read(self, records: Any, epochs: Any, pending: Any, unredeemed: Any,
              height: Any) -> dict[str, bool]:  # fmt: skip
        node = self.ctx.node
        health = node.health()  # never raises: each part says whether it answered
        up = {part: health.checks[part].ok for part in ("chain", "database")}
        if health.block is not None:
            height.add_metric([], health.block)
        if not up["database"]:
            return up
        try:
            queries = node.queries
            for pool in queries.pools():
                pool_id = int(pool["id"])
                pid = str(pool_id)
                for status, n in queries.status_counts(pool_id).items():
                    records.add_metric([pid, status], n)
                epochs.add_metric([pid], queries.epoch_count(pool_id))
                pending.add_metric([pid], queries.pending_anchors(pool_id))
                if up["chain"]:
                    try:
                        owed = sum(
                            max(0, cumulative - node.onchain.redeemed(pool_id, payer))
                            for payer, cumulative in queries.latest_vouchers(pool_id).items()
                        )
                    except Exception:  # the chain went down mid-scrape
                        log.warning("metrics: the chain failed mid-scrape", exc_info=True)
                        up["chain"] = False
                    else:
                        unredeemed.add_metric([pid], float(owed))
        except Exception:  # the database went down mid-scrape
            log.warning("metrics: the database failed mid-scrape", exc_info=True)
            up["database"] = False
        return up
