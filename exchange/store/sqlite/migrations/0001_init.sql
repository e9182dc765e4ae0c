-- Schema registry. AUTOINCREMENT: ids are never reused.
CREATE TABLE registry_schemas (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL UNIQUE,
    schema_text TEXT NOT NULL
);

CREATE TABLE registry_versions (
    subject   TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    schema_id INTEGER NOT NULL REFERENCES registry_schemas (id),
    deleted   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, version)
);
CREATE INDEX registry_versions_schema_id ON registry_versions (schema_id);

CREATE TABLE registry_config (
    subject TEXT PRIMARY KEY,
    level   TEXT NOT NULL
);

-- Every version of every contract, agreement and agency document.
CREATE TABLE documents (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    status     TEXT    NOT NULL DEFAULT '',
    yaml       TEXT    NOT NULL,
    hash       BLOB    NOT NULL,
    author     TEXT    NOT NULL DEFAULT '',
    created_us INTEGER NOT NULL,
    PRIMARY KEY (kind, id, version)
);

CREATE TABLE agreement_transitions (
    agreement_id TEXT    NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq > 0),
    version      INTEGER NOT NULL,
    from_status  TEXT    NOT NULL,
    to_status    TEXT    NOT NULL,
    by_whom      TEXT    NOT NULL,
    at_us        INTEGER NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (agreement_id, seq)
);

-- The audit ledger. Lists are JSON arrays: reasons ["code", …],
-- deliveries [[agreement, topic, delivery id], …], skips [[agreement, reason], …].
-- Times are microseconds since the Unix epoch (UTC).
CREATE TABLE ledger_entries (
    id               INTEGER PRIMARY KEY,
    topic            TEXT    NOT NULL,
    partition        INTEGER NOT NULL,
    "offset"         INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    dataset          TEXT    NOT NULL,
    key_hash         BLOB,
    payload_hash     BLOB,
    schema_id        INTEGER NOT NULL,
    decision         TEXT    NOT NULL,
    reasons          TEXT    NOT NULL,
    deliveries       TEXT    NOT NULL,
    skips            TEXT    NOT NULL,
    plan_version     TEXT    NOT NULL,
    subject_hash     BLOB,
    event_time_us    INTEGER,
    decision_time_us INTEGER NOT NULL,
    prev_hash        BLOB,
    hash             BLOB    NOT NULL,
    UNIQUE (topic, partition, seq),
    UNIQUE (topic, partition, "offset")
);
CREATE INDEX ledger_entries_time ON ledger_entries (decision_time_us, topic, partition, "offset");
CREATE INDEX ledger_entries_dataset ON ledger_entries (dataset, decision_time_us);

-- An index of deliveries for queries; the hashed copy is ledger_entries.deliveries.
CREATE TABLE ledger_deliveries (
    entry_id     INTEGER NOT NULL,
    idx          INTEGER NOT NULL,
    agreement_id TEXT    NOT NULL,
    consumer     TEXT    NOT NULL,
    delivery_id  TEXT    NOT NULL,
    PRIMARY KEY (entry_id, idx)
) WITHOUT ROWID;
CREATE INDEX ledger_deliveries_delivery_id ON ledger_deliveries (delivery_id);
CREATE INDEX ledger_deliveries_agreement ON ledger_deliveries (agreement_id, entry_id);
CREATE INDEX ledger_deliveries_consumer ON ledger_deliveries (consumer, entry_id);

CREATE TABLE ledger_chains (
    topic      TEXT    NOT NULL,
    partition  INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);

CREATE TABLE ledger_checkpoints (
    topic        TEXT    NOT NULL,
    partition    INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    hash         BLOB    NOT NULL,
    signed_at_us INTEGER NOT NULL,
    key_id       TEXT    NOT NULL,
    public_key   BLOB    NOT NULL,
    signature    BLOB    NOT NULL,
    PRIMARY KEY (topic, partition, seq)
);

-- The ledger is append-only through this schema. Anyone with the file can
-- drop these triggers; verify still catches what they then change.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
