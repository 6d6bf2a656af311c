-- A pool's last ledger entry (its hash chain's tail and its carried dust) is read by every
-- paid call. Without this index the lookup went through ledger_pool_epoch and sorted all the
-- pool's entries: a cost per call that grew with the ledger (0.25 ms at 800 entries, twice a
-- call). With it, the last entry is one index seek.

CREATE INDEX IF NOT EXISTS ledger_pool_seq ON ledger(pool_id, seq);
