-- An epoch close in flight (issue #14, crash safety): written and committed before the root is
-- posted on-chain, so a close killed after posting is finished from what was posted, never
-- recomputed over a ledger that has grown since (which would disagree with the chain).

CREATE TABLE IF NOT EXISTS pending_closes (
    pool_id    INTEGER PRIMARY KEY,
    epoch      INTEGER NOT NULL,
    root       TEXT NOT NULL,
    file_hash  TEXT NOT NULL,
    body       TEXT NOT NULL                        -- JSON: what finishing the close writes
);
