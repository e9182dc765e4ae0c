-- The delivery-id index is the one index of the append path whose inserts
-- land anywhere (delivery ids are hashes), so each append dirties — and its
-- commit writes to the WAL — up to one page of it per delivery; the cost
-- grows with the index's size. Keyed by a 32-bit hash of the delivery id
-- (exchange_delivery_key, registered by the Go package: FNV-1a) instead of
-- the 32-character id, its rows take about 12 bytes instead of 40, so far
-- fewer pages. Lookups verify the id in the entry's deliveries, so a hash
-- collision only adds a candidate row.
CREATE TABLE ledger_delivery_keys (
    key      INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    PRIMARY KEY (key, entry_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO ledger_delivery_keys (key, entry_id)
SELECT exchange_delivery_key(delivery_id), entry_id FROM ledger_delivery_ids;

DROP TABLE ledger_delivery_ids;

CREATE TRIGGER ledger_delivery_keys_no_update BEFORE UPDATE ON ledger_delivery_keys
BEGIN SELECT RAISE(ABORT, 'ledger_delivery_keys is append-only'); END;
CREATE TRIGGER ledger_delivery_keys_no_delete BEFORE DELETE ON ledger_delivery_keys
BEGIN SELECT RAISE(ABORT, 'ledger_delivery_keys is append-only'); END;
