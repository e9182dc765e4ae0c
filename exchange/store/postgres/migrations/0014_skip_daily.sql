-- Console (issue 17): per day, dataset, agreement and skip reason, the
-- records an agreement did not receive (policy Skip* reasons: stale,
-- filter, revoked, suspended, expired, not_active, not_approved,
-- not_recorded...); added to by the timeliness aggregator's flushes, so
-- the overview's "skipped (all reasons)" and the agreement chart never
-- scan the ledger. The primary key serves the per-day and per-dataset
-- reads; sla_daily_skips_agreement the agreement page's.
CREATE TABLE sla_daily_skips (
    day       TEXT   NOT NULL CHECK (length(day) = 10),
    dataset   TEXT   NOT NULL,
    agreement TEXT   NOT NULL,
    reason    TEXT   NOT NULL,
    skipped   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, dataset, agreement, reason)
);
CREATE INDEX sla_daily_skips_agreement ON sla_daily_skips (agreement, day);
REVOKE ALL ON sla_daily_skips FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON sla_daily_skips TO exchange_runtime;
