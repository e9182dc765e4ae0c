-- Leaner ledger rows: an append pays per bound value, per row byte and per
-- index entry, on the same cores as the exchange in dev mode.
-- * A chain (source topic-partition) gets a small integer id in
--   ledger_chains, with the dataset of its entries; an entry carries the id
--   instead of the topic, partition and dataset text (dataset is NULL when
--   it is the chain's, the text otherwise).
-- * The row id is (chain << 40) | seq: the table itself is in chain order,
--   so no separate (topic, partition, seq) index; UNIQUE (chain, offset)
--   is the idempotency key and the fork guard, compared as integers.
-- * The keyset time index is on decision_time_us alone (the row id comes
--   with it); ties are put in (topic, partition, offset) order by a sort of
--   the right part of the ORDER BY, one time value at a time.
-- * The fields no query filters on — key hash, payload hash, schema id,
--   event time and previous hash — are one BLOB (exchange_ledger_fields,
--   registered by the Go package, is its encoder); empty lists are NULL.
-- Existing entries are copied with their hashes (a hash covers the logical
-- entry, not its storage), then the old tables are dropped.

CREATE TABLE ledger_chains_v2 (
    id         INTEGER PRIMARY KEY,
    topic      TEXT    NOT NULL,
    partition  INTEGER NOT NULL,
    dataset    TEXT    NOT NULL,
    created_us INTEGER NOT NULL,
    UNIQUE (topic, partition)
);
-- Every chain with entries, in (topic, partition) order; the dataset of
-- its first entry (chains of mixed datasets keep the others on their rows).
INSERT INTO ledger_chains_v2 (topic, partition, dataset, created_us)
SELECT k.topic, k.partition,
       coalesce((SELECT e.dataset FROM ledger_entries e WHERE e.topic = k.topic AND e.partition = k.partition ORDER BY e.seq LIMIT 1), ''),
       coalesce((SELECT c.created_us FROM ledger_chains c WHERE c.topic = k.topic AND c.partition = k.partition), 0)
FROM (SELECT topic, partition FROM ledger_chains UNION SELECT topic, partition FROM ledger_entries) k
ORDER BY k.topic, k.partition;

CREATE TABLE ledger_entries_v2 (
    id               INTEGER PRIMARY KEY, -- (chain << 40) | seq
    chain            INTEGER NOT NULL,    -- ledger_chains.id
    "offset"         INTEGER NOT NULL,
    dataset          TEXT,                -- NULL: the chain's dataset
    decision         TEXT    NOT NULL,
    reasons          TEXT,                -- JSON lists as before; NULL when empty
    deliveries       TEXT,
    skips            TEXT,
    plan_version     TEXT    NOT NULL,
    subject_hash     BLOB,
    decision_time_us INTEGER NOT NULL,
    fields           BLOB    NOT NULL,    -- key_hash, payload_hash, schema_id, event_time_us, prev_hash
    hash             BLOB    NOT NULL,
    UNIQUE (chain, "offset")
);
INSERT INTO ledger_entries_v2 (id, chain, "offset", dataset, decision, reasons, deliveries, skips, plan_version,
    subject_hash, decision_time_us, fields, hash)
SELECT (c.id << 40) | e.seq, c.id, e."offset", nullif(e.dataset, c.dataset), e.decision,
       nullif(e.reasons, '[]'), nullif(e.deliveries, '[]'), nullif(e.skips, '[]'), e.plan_version,
       e.subject_hash, e.decision_time_us,
       exchange_ledger_fields(e.key_hash, e.payload_hash, e.schema_id, e.event_time_us, e.prev_hash), e.hash
FROM ledger_entries e JOIN ledger_chains_v2 c ON c.topic = e.topic AND c.partition = e.partition
ORDER BY c.id, e.seq;

-- Dropping a table drops its indexes and triggers.
DROP TABLE ledger_entries;
DROP TABLE ledger_chains;
ALTER TABLE ledger_chains_v2 RENAME TO ledger_chains;
ALTER TABLE ledger_entries_v2 RENAME TO ledger_entries;
CREATE INDEX ledger_entries_time ON ledger_entries (decision_time_us);

CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
-- A chain's id now stands for its topic and partition in every entry.
CREATE TRIGGER ledger_chains_no_update BEFORE UPDATE ON ledger_chains
BEGIN SELECT RAISE(ABORT, 'ledger_chains is append-only'); END;
CREATE TRIGGER ledger_chains_no_delete BEFORE DELETE ON ledger_chains
BEGIN SELECT RAISE(ABORT, 'ledger_chains is append-only'); END;
