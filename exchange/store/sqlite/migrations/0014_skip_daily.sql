-- Console (issue 17): per day, dataset, agreement and skip reason, the
-- records an agreement did not receive (every policy Skip* reason); added
-- to by the timeliness aggregator's flushes, so the overview's "skipped
-- (all reasons)" and the agreement chart never scan the ledger.
CREATE TABLE sla_daily_skips (
    day       TEXT   NOT NULL CHECK (length(day) = 10),
    dataset   TEXT   NOT NULL,
    agreement TEXT   NOT NULL,
    reason    TEXT   NOT NULL,
    skipped   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, dataset, agreement, reason)
);
CREATE INDEX sla_daily_skips_agreement ON sla_daily_skips (agreement, day);
