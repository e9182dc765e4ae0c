-- ingest_idempotency: HTTP ingest's Idempotency-Key entries. A key is the
-- principal's; the first request claims it (status 0), its answer is kept
-- until expires_us so that a retry gets it back instead of publishing
-- twice. locked_until_us frees the claim of a request that died unanswered.
CREATE TABLE ingest_idempotency (
    principal       TEXT    NOT NULL,
    idem_key        TEXT    NOT NULL,
    request_hash    BYTEA   NOT NULL,
    status          INTEGER NOT NULL DEFAULT 0,
    body            BYTEA,
    created_us      BIGINT  NOT NULL,
    expires_us      BIGINT  NOT NULL,
    locked_until_us BIGINT  NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX ingest_idempotency_expires ON ingest_idempotency (expires_us);

-- The runtime claims, answers, releases and purges keys: unlike the ledger
-- this is a cache of answers, not a record.
REVOKE ALL ON ingest_idempotency FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ingest_idempotency TO exchange_runtime;
