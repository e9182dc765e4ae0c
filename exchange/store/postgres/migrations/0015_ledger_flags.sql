-- Audit indexer (issue 18): the entries read from the audit topic that the
-- index refused (ledger.Flag: a position reused by another record, an
-- invalid entry, a malformed message), kept for auditors with the evidence,
-- never chained. "offset" is NULL for a malformed message (no entry
-- position; detail names the message's). Listed newest first (the index).
-- The runtime may only add and read them, as with the ledger.
CREATE TABLE ledger_flags (
    id          BIGSERIAL   PRIMARY KEY,
    topic       TEXT        NOT NULL DEFAULT '',
    partition   INTEGER     NOT NULL DEFAULT 0,
    "offset"    BIGINT,
    reason      TEXT        NOT NULL,
    detail      TEXT        NOT NULL DEFAULT '',
    entry       BYTEA,
    flagged_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_flags_newest ON ledger_flags (flagged_at DESC, id DESC);
REVOKE ALL ON ledger_flags FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_flags TO exchange_runtime;
GRANT USAGE ON SEQUENCE ledger_flags_id_seq TO exchange_runtime;
