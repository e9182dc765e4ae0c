-- Quality and quarantine pages of the console (issue 17): per day, dataset
-- and reason code, the records quarantined with it and those delivered
-- with it as a warning; added to by the timeliness aggregator's flushes.
-- ledger_entries_quarantined keeps the quarantine page's newest-first list
-- of quarantined entries an index range read (the audit query writes
-- decision = 'quarantined' as a literal: SQLite uses a partial index only
-- for a literal).
CREATE TABLE sla_daily_reasons (
    day         TEXT   NOT NULL CHECK (length(day) = 10),
    dataset     TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    quarantined BIGINT NOT NULL DEFAULT 0,
    warned      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, dataset, reason)
);

CREATE INDEX ledger_entries_quarantined ON ledger_entries (decision_time_us) WHERE decision = 'quarantined';
