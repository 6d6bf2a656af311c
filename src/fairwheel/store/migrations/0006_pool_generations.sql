-- Per-pool change counters (issue #15): a paid call checks that its index and its revenue
-- split are current by reading one row, instead of aggregating over every accepted record.
-- `servable` is bumped in the transaction of every change of a record's status (an accepted
-- record inserted, a verdict, a revocation); `split` by every change of feedback weights or
-- labeler credit, which also change who a prediction pays.

CREATE TABLE IF NOT EXISTS pool_generations (
    pool_id    INTEGER PRIMARY KEY,
    servable   INTEGER NOT NULL DEFAULT 0,
    split      INTEGER NOT NULL DEFAULT 0
);

INSERT INTO pool_generations(pool_id) SELECT id FROM pools;
