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

-- Integrity page (issue 17): each recorded verification of the ledger's
-- chains (the console's "verify now", `exchange audit verify`), one row
-- per chain: who asked, when, entries checked, the result and the first
-- break. The page reads the newest row of every chain (the index).
CREATE TABLE ledger_verifications (
    id           BIGSERIAL   PRIMARY KEY,
    verified_at  TIMESTAMPTZ NOT NULL,
    verified_by  TEXT        NOT NULL,
    topic        TEXT        NOT NULL,
    partition    INTEGER     NOT NULL,
    entries      BIGINT      NOT NULL,
    ok           BOOLEAN     NOT NULL,
    first_break  TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX ledger_verifications_chain ON ledger_verifications (topic, partition, id DESC);
REVOKE ALL ON ledger_verifications FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_verifications TO exchange_runtime;
GRANT USAGE ON SEQUENCE ledger_verifications_id_seq TO exchange_runtime;
