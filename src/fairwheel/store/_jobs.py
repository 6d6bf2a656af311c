"""Store tables of background jobs: leases (one runner per job) and each job's last run.

A table group of every SQL backend. A lease is taken by an upsert that succeeds only when the
lease is free, expired or already the caller's, so two processes asking at once (two
``fairwheel worker``, or a worker and ``serve``) cannot both get it, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from fairwheel.domain.rows import JobRunRow
from fairwheel.store._connection import Row, SqlConnection


class JobTables(SqlConnection):
    """Queries over ``job_leases`` and ``job_runs``."""

    def acquire_lease(self, name: str, holder: str, now: float, seconds: float) -> bool:
        """Take (or renew) the lease on ``name`` until ``now + seconds``; False while another
        holder's lease is live."""
        with self.transaction():
            row = self._one(
                "INSERT INTO job_leases(name, holder, expires) VALUES(?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
                "expires = excluded.expires "
                "WHERE job_leases.expires <= ? OR job_leases.holder = excluded.holder "
                "RETURNING holder",
                (name, holder, now + seconds, now),
            )
        return row is not None

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease back (only the holder's own lease)."""
        with self.transaction():
            self._exec("DELETE FROM job_leases WHERE name = ? AND holder = ?", (name, holder))

    def lease_holder(self, name: str, now: float) -> str | None:
        row = self._one("SELECT holder FROM job_leases WHERE name = ? AND expires > ?", (name, now))
        return None if row is None else str(row["holder"])

    def record_job_run(
        self, name: str, started: float, finished: float, status: str, detail: str, marker: str
    ) -> None:
        """Keep the outcome of a run (``failed`` runs keep the previous marker)."""
        failed = int(status == "failed")
        with self.transaction():
            self._exec(
                "INSERT INTO job_runs(name, started, finished, status, detail, marker, runs, "
                "failures, last_ok) VALUES(?,?,?,?,?,?,1,?,?) "
                "ON CONFLICT(name) DO UPDATE SET started = excluded.started, "
                "finished = excluded.finished, status = excluded.status, "
                "detail = excluded.detail, "
                "marker = CASE WHEN excluded.status = 'failed' THEN job_runs.marker "
                "ELSE excluded.marker END, "
                "runs = job_runs.runs + 1, failures = job_runs.failures + excluded.failures, "
                "last_ok = CASE WHEN excluded.status = 'failed' THEN job_runs.last_ok "
                "ELSE excluded.last_ok END",
                (name, started, finished, status, detail, "" if failed else marker, failed,
                 0.0 if failed else finished),
            )  # fmt: skip

    def job_run(self, name: str) -> JobRunRow | None:
        row = self._one("SELECT * FROM job_runs WHERE name = ?", (name,))
        return None if row is None else _job_row(row)

    def job_runs(self) -> list[JobRunRow]:
        return [_job_row(r) for r in self._all("SELECT * FROM job_runs ORDER BY name")]


def _job_row(r: Row) -> JobRunRow:
    return JobRunRow(
        name=str(r["name"]), started=float(r["started"]), finished=float(r["finished"]),
        status=str(r["status"]), detail=str(r["detail"]), marker=str(r["marker"]),
        runs=int(r["runs"]), failures=int(r["failures"]), last_ok=float(r["last_ok"]),
    )  # fmt: skip
