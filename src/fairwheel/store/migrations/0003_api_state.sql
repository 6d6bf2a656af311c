-- The HTTP edge's state, shared by every worker of a node and kept across restarts (issue #14):
-- login nonces, sessions and idempotent responses. Rate-limit buckets stay per process.

CREATE TABLE IF NOT EXISTS api_nonces (
    nonce    TEXT PRIMARY KEY,
    expires  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS api_sessions (
    digest       TEXT PRIMARY KEY,                  -- SHA-256 of the bearer token, never the token
    address      TEXT NOT NULL,
    is_operator  INTEGER NOT NULL,
    expires      REAL NOT NULL,
    created      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS api_sessions_expires ON api_sessions(expires);

CREATE TABLE IF NOT EXISTS api_idempotency (
    slot         TEXT PRIMARY KEY,                  -- caller and Idempotency-Key
    in_progress  INTEGER NOT NULL,                  -- 1 while the first request runs
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    headers      TEXT NOT NULL,                     -- JSON [[name hex, value hex], ...]
    body         BLOB NOT NULL,
    expires      REAL NOT NULL,
    created      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS api_idempotency_expires ON api_idempotency(expires);
