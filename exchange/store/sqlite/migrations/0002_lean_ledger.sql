-- Leaner ledger appends: every index is a B-tree insert per row on the
-- append path, so keep only those an answer needs (as on PostgreSQL):
--
--   ledger_entries_time                  keyset order of audit queries, time ranges
--   (topic, partition, seq|offset)       chain order, idempotency, the fork guard
--   ledger_delivery_ids                  lineage and audit queries by delivery id
--
-- Dataset, agreement, consumer, reason and subject filters scan the rows a
-- time range selects, reading the entry's own columns (deliveries and skips
-- are already stored inline as JSON in the hashed row).
--
-- ledger_deliveries (one row per delivery with its primary key and three
-- indexes: four B-tree inserts per delivery) becomes ledger_delivery_ids:
-- one row per delivery, keyed by delivery id, nothing else.
CREATE TABLE ledger_delivery_ids (
    delivery_id TEXT    NOT NULL,
    entry_id    INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, entry_id)
) WITHOUT ROWID;

INSERT INTO ledger_delivery_ids (delivery_id, entry_id)
SELECT delivery_id, entry_id FROM ledger_deliveries;

DROP TABLE ledger_deliveries;
DROP INDEX ledger_entries_dataset;

CREATE TRIGGER ledger_delivery_ids_no_update BEFORE UPDATE ON ledger_delivery_ids
BEGIN SELECT RAISE(ABORT, 'ledger_delivery_ids is append-only'); END;
CREATE TRIGGER ledger_delivery_ids_no_delete BEFORE DELETE ON ledger_delivery_ids
BEGIN SELECT RAISE(ABORT, 'ledger_delivery_ids is append-only'); END;
