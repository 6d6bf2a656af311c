"""Background jobs: the node's upkeep, run by ``fairwheel worker`` or inside ``fairwheel serve``.

Per pool, each pass runs these jobs, in this order:

* ``anchor`` — anchor accepted records not yet in a batch (one ``anchorBatch`` transaction);
* ``rescore`` — judge the pool again once its accepted records grew by
  ``jobs.rescore_growth`` (at least 20) since the last rescore;
* ``retrain`` — roll back a version losing the arena, and retrain when the serving version was
  trained on a record revoked since, on 10% more data, or on drifting feedback
  (``VersionService.upkeep``);
* ``close`` — close the epoch when its oldest open paid call is ``epoch_length`` old by the
  chain's clock (so its vouchers are redeemed within the escrow's redemption window), or early
  when the open epoch's payments reach ``jobs.redeem_threshold`` (closing redeems them).

A job runs under a lease in the store (``job:pool``, held for ``jobs.lease_seconds``): two
runners (two ``fairwheel worker``, or a worker and ``serve --jobs``) never run one job at once,
and a runner that died loses its leases when they expire. Every job decides from the store and
the chain what is left to do, so a job that crashed halfway is simply run again: anchoring picks
the records still unanchored, a close retried after its root was posted redeems nothing twice.
"Nothing to do" is an outcome (``idle``), never an error. Each run's outcome is kept
(``store.job_runs``), for ``fairwheel worker --status`` and the job-lag gauge.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from fairwheel.domain.rows import JobRunRow
from fairwheel.errors import Conflict, FairwheelError
from fairwheel.node.ports import NodePorts
from fairwheel.node.service import Service

if TYPE_CHECKING:
    from fairwheel.node.contributions import ContributionService
    from fairwheel.node.pools import PoolService
    from fairwheel.node.settlement import SettlementService
    from fairwheel.node.versions import VersionService

__all__ = ["JOBS", "JobOutcome", "JobService", "default_holder"]

log = logging.getLogger(__name__)

JOBS = ("anchor", "rescore", "retrain", "close")
"""The jobs of each pool, in the order a pass runs them."""

RESCORE_MIN_GROWTH = 20


def default_holder() -> str:
    """This process's name in leases: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class JobOutcome:
    """What one job did on one pool.

    Attributes:
        job: The job (one of :data:`JOBS`).
        pool_id: The pool.
        status: ``ran`` (it changed something), ``idle`` (nothing to do), ``busy`` (another
            runner holds its lease) or ``failed`` (an error; the next pass retries it).
        detail: What it did, or why not.
    """

    job: str
    pool_id: int
    status: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_Work = tuple[str, str, str]  # status, detail, marker


class JobService(Service):
    """The background jobs over the node's services (see the module docstring).

    Args:
        ports: The node's ports.
        pools: Anchoring.
        contributions: Rescoring.
        versions: Retraining.
        settlement: Epoch closes.
        clock: Wall-clock time for leases and run records (tests pass their own).
    """

    def __init__(
        self,
        ports: NodePorts,
        pools: PoolService,
        contributions: ContributionService,
        versions: VersionService,
        settlement: SettlementService,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(ports)
        self.pools, self.contributions = pools, contributions
        self.versions, self.settlement = versions, settlement
        self.clock = clock

    def run_pass(
        self,
        holder: str | None = None,
        guard: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> list[JobOutcome]:
        """Run every job of every pool once; never raises for a job's failure.

        Args:
            holder: The name this runner holds leases under (default :func:`default_holder`).
            guard: Entered around each job (``serve`` passes the API's node lock, so a job
                never runs while a request uses the node).
        """
        holder = holder or default_holder()
        with guard():
            pools = [int(p["id"]) for p in self.store.pools()]
        return [out for pool_id in pools for out in self._pool_pass(pool_id, holder, guard)]

    def _pool_pass(
        self, pool_id: int, holder: str, guard: Callable[[], AbstractContextManager[Any]]
    ) -> Iterator[JobOutcome]:
        for job in JOBS:
            name = f"{job}:{pool_id}"
            lease = self.settings.jobs.lease_seconds
            if not self.store.acquire_lease(name, holder, self.clock(), lease):
                who = self.store.lease_holder(name, self.clock()) or "another runner"
                yield JobOutcome(job, pool_id, "busy", f"leased by {who}")
                continue
            started = self.clock()
            try:
                with guard():
                    status, detail, marker = self._run(job, pool_id)
            except FairwheelError as exc:
                status, detail, marker = "failed", f"{exc.code}: {exc.message}", ""
            except Exception as exc:  # a job's bug must not stop the other jobs
                log.exception("job %s failed", name)
                status, detail, marker = "failed", f"{type(exc).__name__}: {exc}", ""
            finally:
                self.store.release_lease(name, holder)
            self.store.record_job_run(name, started, self.clock(), status, detail, marker)
            yield JobOutcome(job, pool_id, status, detail)

    def run_until(
        self,
        stop: threading.Event,
        guard: Callable[[], AbstractContextManager[Any]] = nullcontext,
        report: Callable[[JobOutcome], None] | None = None,
        interval: float | None = None,
    ) -> None:
        """Run a pass every ``interval`` seconds (default ``jobs.interval``) until ``stop`` is
        set; each outcome goes to ``report``, and jobs that ran or failed to the log."""
        while not stop.is_set():
            for outcome in self.run_pass(guard=guard):
                if report is not None:
                    report(outcome)
                if outcome.status in ("ran", "failed"):
                    log.info("job %s pool %s %s: %s", outcome.job, outcome.pool_id,
                             outcome.status, outcome.detail)  # fmt: skip
            stop.wait(interval or self.settings.jobs.interval)

    def runs(self) -> list[JobRunRow]:
        """The last run of every job that has run."""
        return self.store.job_runs()

    # -- the jobs --------------------------------------------------------------------
    def _run(self, job: str, pool_id: int) -> _Work:
        previous = self.store.job_run(f"{job}:{pool_id}")
        marker = previous["marker"] if previous else ""
        if job == "anchor":
            receipts = self.pools.anchor(pool_id)
            if not receipts:
                return "idle", "no accepted record waits for an anchor", marker
            return "ran", f"anchored {len(receipts)} records in one batch", marker
        if job == "rescore":
            return self._rescore_job(pool_id, marker)
        if job == "retrain":
            model = self.versions.upkeep(pool_id, self.operator.address)
            if model is None:
                return "idle", "the serving version needs no retraining", marker
            return "ran", f"trained version {model.get('version')} ({model.get('trigger')})", marker
        return self._close_job(pool_id, marker)

    def _rescore_job(self, pool_id: int, marker: str) -> _Work:
        accepted = self.store.status_counts(pool_id).get("accepted", 0)
        if not marker and self.settings.jobs.inline_rescore:
            # First sight: the gate rescored inline while the pool grew.
            return "idle", f"baseline: {accepted} accepted records", str(accepted)
        last = int(marker or 0)
        growth = max(RESCORE_MIN_GROWTH, self.settings.jobs.rescore_growth * last)
        if accepted - last < growth:
            return "idle", f"{accepted} accepted, rescored at {last}", marker
        changes = self.contributions.rescore(pool_id)
        after = self.store.status_counts(pool_id).get("accepted", 0)
        return "ran", f"rescored {accepted} records: {len(changes)} changed status", str(after)

    def _close_job(self, pool_id: int, marker: str) -> _Work:
        running = self.store.open_fold(pool_id)
        if running is None:
            return "idle", "no paid calls since the last epoch", marker
        paid = int(running["paid"])
        threshold = self.settings.jobs.redeem_threshold
        oldest = int(self.store.ledger_entry(int(running["first_seq"]))["time"])
        due_at = oldest + self.settings.epoch_length
        now = self.chain.now()
        if now < due_at and not (threshold and paid >= threshold):
            return "idle", f"{running['entries']} paid calls; due at chain time {due_at}", marker
        why = "schedule" if now >= due_at else f"unredeemed {paid} >= threshold {threshold}"
        try:
            report = self.settlement.close_epoch(pool_id)
        except Conflict as exc:  # e.g. calls arrived while closing: the next pass closes it
            return "idle", exc.message, marker
        if not report.posted:
            return "ran", f"redeemed {report.redeemed}; nothing collected to credit yet", marker
        return "ran", (f"closed epoch {report.epoch} ({why}): {report.entries} calls, "
                       f"redeemed {report.redeemed}"), str(report.epoch)  # fmt: skip
