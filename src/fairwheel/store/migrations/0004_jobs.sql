-- Background jobs (issue #14): a lease per job so that one process runs it at a time, and the
-- last run of each, for the scheduler (and the job-lag gauge).

CREATE TABLE IF NOT EXISTS job_leases (
    name     TEXT PRIMARY KEY,                      -- e.g. anchor:1 (job and pool)
    holder   TEXT NOT NULL,                         -- host:pid of the process that runs it
    expires  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS job_runs (
    name         TEXT PRIMARY KEY,
    started      REAL NOT NULL,
    finished     REAL NOT NULL,
    status       TEXT NOT NULL,                     -- ran | idle | failed
    detail       TEXT NOT NULL,
    marker       TEXT NOT NULL DEFAULT '',          -- what the job last saw (e.g. a pool size)
    runs         INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    last_ok      REAL NOT NULL DEFAULT 0            -- when it last finished without failing
);
