-- Audit indexer (issue 18): the entries read from the audit topic that the
-- index refused (ledger.Flag: a position reused by another record, an
-- invalid entry, a malformed message), kept for auditors with the evidence,
-- never chained. "offset" is NULL for a malformed message (no entry
-- position; detail names the message's). Listed newest first (the index).
-- Append-only, as the ledger is.
CREATE TABLE ledger_flags (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    topic         TEXT    NOT NULL DEFAULT '',
    partition     INTEGER NOT NULL DEFAULT 0,
    "offset"      INTEGER,
    reason        TEXT    NOT NULL,
    detail        TEXT    NOT NULL DEFAULT '',
    entry         BLOB,
    flagged_at_us INTEGER NOT NULL
);
CREATE INDEX ledger_flags_newest ON ledger_flags (flagged_at_us DESC, id DESC);
CREATE TRIGGER ledger_flags_no_update BEFORE UPDATE ON ledger_flags
BEGIN SELECT RAISE(ABORT, 'ledger_flags is append-only'); END;
CREATE TRIGGER ledger_flags_no_delete BEFORE DELETE ON ledger_flags
BEGIN SELECT RAISE(ABORT, 'ledger_flags is append-only'); END;
