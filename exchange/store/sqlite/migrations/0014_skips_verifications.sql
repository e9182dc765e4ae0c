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

-- Integrity page (issue 17): each recorded verification of the ledger's
-- chains (the console's "verify now", `exchange audit verify`), one row
-- per chain: who asked, when, entries checked, the result and the first
-- break. The page reads the newest row of every chain (the index).
CREATE TABLE ledger_verifications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    verified_at_us INTEGER NOT NULL,
    verified_by    TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    partition      INTEGER NOT NULL,
    entries        INTEGER NOT NULL,
    ok             INTEGER NOT NULL,
    first_break    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ledger_verifications_chain ON ledger_verifications (topic, partition, id DESC);
