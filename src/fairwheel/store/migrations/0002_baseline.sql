-- Fairwheel's source of truth. Money columns are TEXT holding base-10 integers
-- (token base units overflow SQLite's 64-bit INTEGER).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS pools (
    id                INTEGER PRIMARY KEY,          -- the on-chain pool id
    name              TEXT NOT NULL,
    operator          TEXT NOT NULL,
    guardian          TEXT NOT NULL,
    search_price      TEXT NOT NULL,
    predict_price     TEXT NOT NULL,
    operator_fee_bps  INTEGER NOT NULL,
    builder_share_bps INTEGER NOT NULL,
    labeler_share_bps INTEGER NOT NULL DEFAULT 0,     -- off-chain: labelers' part of a record's share
    labels            TEXT NOT NULL,                -- JSON list; empty = any label
    licence           TEXT NOT NULL,
    tx_hash           TEXT NOT NULL,
    created_at        REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS records (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id       INTEGER NOT NULL REFERENCES pools(id),
    record_hash   BLOB NOT NULL,                    -- SHA-256 of the canonical form
    contributor   TEXT NOT NULL,
    content_hash  BLOB NOT NULL,
    dup_key       BLOB NOT NULL,
    blob_name     TEXT,                             -- the content's own encrypted blob copy
                                                    -- (NULL when rejected: content not kept)
    label         TEXT,
    status        TEXT NOT NULL,
    score         REAL NOT NULL,
    reasons       TEXT NOT NULL,                    -- JSON list of machine-readable reasons
    duplicate_of  INTEGER REFERENCES records(id),
    licence       TEXT NOT NULL,
    purposes      INTEGER NOT NULL,
    expiry        INTEGER NOT NULL,
    nonce         TEXT NOT NULL,
    signature     BLOB NOT NULL,
    batch_id      INTEGER,
    proof         TEXT,                             -- JSON list of hex nodes
    pinned        INTEGER NOT NULL DEFAULT 0,       -- a reviewer set its status: rescoring keeps it
    created_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_pool_status ON records(pool_id, status);
CREATE INDEX IF NOT EXISTS records_dup ON records(pool_id, dup_key);
CREATE INDEX IF NOT EXISTS records_contributor ON records(contributor);
CREATE UNIQUE INDEX IF NOT EXISTS records_accepted_hash ON records(record_hash)
    WHERE status IN ('accepted', 'revoked');

CREATE TABLE IF NOT EXISTS used_nonces (
    contributor TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    PRIMARY KEY (contributor, nonce)
);

CREATE TABLE IF NOT EXISTS embeddings (
    record_id INTEGER PRIMARY KEY REFERENCES records(id),
    model_id  TEXT NOT NULL,
    vector    BLOB NOT NULL                         -- float32, L2-normalised
);

CREATE TABLE IF NOT EXISTS batches (
    pool_id   INTEGER NOT NULL,
    batch_id  INTEGER NOT NULL,
    root      TEXT NOT NULL,
    count     INTEGER NOT NULL,
    uri       TEXT NOT NULL,
    tx_hash   TEXT NOT NULL,
    PRIMARY KEY (pool_id, batch_id)
);

CREATE TABLE IF NOT EXISTS models (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id       INTEGER NOT NULL,
    chain_id      INTEGER NOT NULL,                 -- the on-chain model id within the pool
    builder       TEXT NOT NULL,
    model_hash    TEXT NOT NULL,
    dataset_root  TEXT NOT NULL,
    metrics       TEXT NOT NULL,                    -- canonical JSON
    metrics_hash  TEXT NOT NULL,
    artifact      BLOB NOT NULL,                    -- serialised classifier
    tx_hash       TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 0,       -- 1, 2, … within the pool
    trigger       TEXT NOT NULL DEFAULT 'manual',   -- manual | new_data | feedback | revocation
    report        TEXT NOT NULL DEFAULT '{}',       -- promotion report (canonical JSON)
    created_at    REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS model_values (
    model_id  INTEGER NOT NULL REFERENCES models(id),
    record_id INTEGER NOT NULL REFERENCES records(id),
    value     REAL NOT NULL,
    PRIMARY KEY (model_id, record_id)
);

CREATE TABLE IF NOT EXISTS ledger (
    seq            INTEGER PRIMARY KEY,
    pool_id        INTEGER NOT NULL,
    body           TEXT NOT NULL,                   -- canonical JSON of the entry
    hash           TEXT NOT NULL,
    epoch          INTEGER                          -- NULL until folded into an epoch
);
CREATE INDEX IF NOT EXISTS ledger_pool_epoch ON ledger(pool_id, epoch);

-- Running fold of each pool's open epoch, kept in step with the ledger by every append, so
-- closing an epoch of a million calls does not re-read them.
CREATE TABLE IF NOT EXISTS open_epochs (
    pool_id         INTEGER PRIMARY KEY,
    first_seq       INTEGER NOT NULL,
    first_prev_hash TEXT NOT NULL,
    dust_in         TEXT NOT NULL,
    paid            TEXT NOT NULL,
    fees            TEXT NOT NULL,
    entries         INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS open_earnings (
    pool_id  INTEGER NOT NULL,
    account  TEXT NOT NULL,
    amount   TEXT NOT NULL,
    PRIMARY KEY (pool_id, account)
);

CREATE TABLE IF NOT EXISTS vouchers (
    pool_id     INTEGER NOT NULL,
    payer       TEXT NOT NULL,
    cumulative  TEXT NOT NULL,
    signature   BLOB NOT NULL,
    PRIMARY KEY (pool_id, payer)
);

CREATE TABLE IF NOT EXISTS epochs (
    pool_id     INTEGER NOT NULL,
    epoch       INTEGER NOT NULL,
    root        TEXT NOT NULL,
    total       TEXT NOT NULL,
    dust        TEXT NOT NULL,                      -- rounding dust carried out of this epoch
    file_path   TEXT NOT NULL,
    file_hash   TEXT NOT NULL,
    tx_hash     TEXT NOT NULL,
    closed_at   REAL NOT NULL,
    PRIMARY KEY (pool_id, epoch)
);

CREATE TABLE IF NOT EXISTS earnings (
    pool_id     INTEGER NOT NULL,
    epoch       INTEGER NOT NULL,
    account     TEXT NOT NULL,
    cumulative  TEXT NOT NULL,
    PRIMARY KEY (pool_id, epoch, account)
);

CREATE TABLE IF NOT EXISTS labeling_jobs (
    id          TEXT PRIMARY KEY,
    pool_id     INTEGER NOT NULL REFERENCES pools(id),
    budget      TEXT NOT NULL,
    min_stake   TEXT NOT NULL,
    status      TEXT NOT NULL,                      -- open | closed
    state       TEXT NOT NULL,                      -- LabelingJob.to_dict() (secret: never served)
    result      TEXT,                               -- JobResult.to_dict() once closed
    created_at  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS record_labels (
    record_id   INTEGER PRIMARY KEY REFERENCES records(id),
    label       TEXT NOT NULL,                      -- confirmed by a labeling job
    confidence  REAL NOT NULL,
    job_id      TEXT NOT NULL REFERENCES labeling_jobs(id)
);

CREATE TABLE IF NOT EXISTS label_credit (
    record_id   INTEGER NOT NULL REFERENCES records(id),
    labeler     TEXT NOT NULL,
    share       REAL NOT NULL,                      -- shares of one record sum to 1
    PRIMARY KEY (record_id, labeler)
);

-- Model versions: which records each version was trained or evaluated on, which it may no
-- longer use (revoked since), and the serving history (promotions and rollbacks).
CREATE TABLE IF NOT EXISTS model_records (
    model_id  INTEGER NOT NULL REFERENCES models(id),
    record_id INTEGER NOT NULL REFERENCES records(id),
    PRIMARY KEY (model_id, record_id)
);
CREATE INDEX IF NOT EXISTS model_records_record ON model_records(record_id);

CREATE TABLE IF NOT EXISTS model_taints (
    model_id  INTEGER NOT NULL REFERENCES models(id),
    record_id INTEGER NOT NULL REFERENCES records(id),
    time      REAL NOT NULL,
    PRIMARY KEY (model_id, record_id)
);

CREATE TABLE IF NOT EXISTS model_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id   INTEGER NOT NULL,
    model_id  INTEGER NOT NULL REFERENCES models(id),
    action    TEXT NOT NULL,                        -- promoted | kept | rollback
    detail    TEXT NOT NULL,
    time      REAL NOT NULL
);

-- Revocation steps, for the contributor to follow.
CREATE TABLE IF NOT EXISTS revocations (
    record_id     INTEGER PRIMARY KEY REFERENCES records(id),
    tx_hash       TEXT NOT NULL,
    steps         TEXT NOT NULL                     -- JSON list of {step, time, detail}
);

-- Feedback: the records behind each paid answer, ratings, arena pairs, record weights.
CREATE TABLE IF NOT EXISTS call_records (
    seq       INTEGER NOT NULL,
    record_id INTEGER NOT NULL,
    share     REAL NOT NULL,
    PRIMARY KEY (seq, record_id)
);

-- The records each paid search returned, in rank order: the consumer's answer, kept with the
-- ledger entry (not in a server's memory) so every worker and every restart can show a
-- contributor which of their records a paid call served.
CREATE TABLE IF NOT EXISTS call_hits (
    seq       INTEGER NOT NULL,
    rank      INTEGER NOT NULL,
    record_id INTEGER NOT NULL,
    PRIMARY KEY (seq, rank)
);

CREATE TABLE IF NOT EXISTS feedback (
    pool_id   INTEGER NOT NULL,
    seq       INTEGER NOT NULL,                     -- the rated paid call
    rater     TEXT NOT NULL,
    kind      TEXT NOT NULL,                        -- thumbs | stars | arena
    value     INTEGER NOT NULL,
    time      REAL NOT NULL,
    epoch     INTEGER,                              -- set when its raters were paid
    PRIMARY KEY (seq, rater)
);
CREATE INDEX IF NOT EXISTS feedback_pool ON feedback(pool_id, epoch);

CREATE TABLE IF NOT EXISTS arena (
    seq       INTEGER PRIMARY KEY,                  -- the paid call that got two answers
    pool_id   INTEGER NOT NULL,
    prompt_blob TEXT NOT NULL,                      -- the query, sealed in the blob store
    answers   TEXT NOT NULL                         -- JSON [{source, model_id, answer, records}] x2
);

CREATE TABLE IF NOT EXISTS record_weights (
    record_id INTEGER PRIMARY KEY REFERENCES records(id),
    weight    REAL NOT NULL,
    good      REAL NOT NULL,
    bad       REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS feedback_budgets (
    pool_id    INTEGER PRIMARY KEY,
    per_epoch  TEXT NOT NULL,                       -- base units paid to raters per epoch
    dust       TEXT NOT NULL DEFAULT '0'
);

CREATE TABLE IF NOT EXISTS call_models (
    seq       INTEGER PRIMARY KEY,                  -- a paid prediction
    model_id  INTEGER NOT NULL REFERENCES models(id)
);

CREATE TABLE IF NOT EXISTS feedback_gold (
    seq       INTEGER PRIMARY KEY,                  -- a call whose right rating the operator knows
    bit       INTEGER NOT NULL                      -- 1: a good answer (arena: 1 = B is better)
);

-- Settlement that one payer cannot block (docs/settlement.md, "Shortfalls and debt").
-- Every accepted voucher, not only the latest: a payer whose escrow no longer covers the latest
-- voucher at a close is collected up to the largest voucher the escrow still covers.
CREATE TABLE IF NOT EXISTS voucher_history (
    pool_id     INTEGER NOT NULL,
    payer       TEXT NOT NULL,
    cumulative  TEXT NOT NULL,
    signature   BLOB NOT NULL,
    PRIMARY KEY (pool_id, payer, cumulative)
);

-- Ledger entries published in an epoch file whose payer had not paid for them at that close:
-- their earnings are withheld until a later close collects the payer's voucher.
CREATE TABLE IF NOT EXISTS unsettled (
    seq             INTEGER PRIMARY KEY,
    pool_id         INTEGER NOT NULL,
    payer           TEXT NOT NULL,
    voucher_amount  TEXT NOT NULL,
    epoch           INTEGER NOT NULL                -- the epoch file that first published it
);
CREATE INDEX IF NOT EXISTS unsettled_pool ON unsettled(pool_id);

-- What each payer still owed after each close: uncollected prices and the earnings withheld.
CREATE TABLE IF NOT EXISTS debts (
    pool_id     INTEGER NOT NULL,
    epoch       INTEGER NOT NULL,
    payer       TEXT NOT NULL,
    owed        TEXT NOT NULL,
    withheld    TEXT NOT NULL,
    collected   TEXT NOT NULL,                      -- the payer's redeemed cumulative amount
    PRIMARY KEY (pool_id, epoch, payer)
);
