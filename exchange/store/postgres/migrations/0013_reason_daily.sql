-- Quality and quarantine pages of the console (issue 17):
-- * sla_daily_reasons: per day, dataset and reason code, the records
--   quarantined with it and those delivered with it as a warning; added to
--   by the timeliness aggregator's flushes (never a ledger scan per page).
-- * ledger_entries_quarantined: the quarantine page lists a dataset's
--   quarantined entries newest first; a partial index on their time keeps
--   that an index range read however few of the ledger's entries are
--   quarantined (the audit query writes decision = 'quarantined' as a
--   literal, so a generic plan can use it too).
CREATE TABLE sla_daily_reasons (
    day         TEXT   NOT NULL CHECK (length(day) = 10),
    dataset     TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    quarantined BIGINT NOT NULL DEFAULT 0,
    warned      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, dataset, reason)
);
REVOKE ALL ON sla_daily_reasons FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON sla_daily_reasons TO exchange_runtime;

CREATE INDEX ledger_entries_quarantined ON ledger_entries (decision_time) WHERE decision = 'quarantined';
