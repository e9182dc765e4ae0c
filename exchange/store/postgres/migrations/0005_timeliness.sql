-- Timeliness (package exchange/timeliness): what every exchange process of
-- the group shares about silences, SLA compliance and notices.
-- * dataset_last_accepted: each dataset's last accepted decision time, the
--   maximum of every process's flushes (silence detection reads it).
-- * sla_events: silences, unique on (dataset, agreement, start): the
--   process whose insert (or closing update) wins sends the notice.
-- * sla_daily, sla_daily_lag: per day, dataset and agreement ('' for the
--   dataset's own row) the counts and the publish→delivery lag histogram
--   (bucket k: up to 1 ms·2^(k/2)), added to with each flush.
-- * notices: what each agency was told (GET /api/v1/notices).
-- Times are microseconds since the Unix epoch; days are UTC dates.

CREATE TABLE dataset_last_accepted (
    dataset TEXT PRIMARY KEY,
    last_us BIGINT NOT NULL
);

CREATE TABLE sla_events (
    dataset   TEXT   NOT NULL,
    agreement TEXT   NOT NULL DEFAULT '',
    start_us  BIGINT NOT NULL,
    end_us    BIGINT,
    PRIMARY KEY (dataset, agreement, start_us),
    CHECK (end_us IS NULL OR end_us >= start_us)
);
CREATE INDEX sla_events_open ON sla_events (dataset) WHERE end_us IS NULL;
CREATE INDEX sla_events_start ON sla_events (start_us);

CREATE TABLE sla_daily (
    day         TEXT   NOT NULL CHECK (length(day) = 10),
    dataset     TEXT   NOT NULL,
    agreement   TEXT   NOT NULL DEFAULT '',
    records     BIGINT NOT NULL DEFAULT 0,
    on_time     BIGINT NOT NULL DEFAULT 0,
    stale       BIGINT NOT NULL DEFAULT 0,
    quarantined BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, dataset, agreement)
);

CREATE TABLE sla_daily_lag (
    day       TEXT     NOT NULL,
    dataset   TEXT     NOT NULL,
    agreement TEXT     NOT NULL DEFAULT '',
    bucket    SMALLINT NOT NULL CHECK (bucket >= 0),
    count     BIGINT   NOT NULL,
    PRIMARY KEY (day, dataset, agreement, bucket)
);

CREATE TABLE notices (
    id     BIGSERIAL PRIMARY KEY,
    agency TEXT   NOT NULL,
    at_us  BIGINT NOT NULL,
    kind   TEXT   NOT NULL,
    body   TEXT   NOT NULL -- the notice as JSON
);
CREATE INDEX notices_agency ON notices (agency, id);

REVOKE ALL ON dataset_last_accepted, sla_events, sla_daily, sla_daily_lag, notices FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON dataset_last_accepted, sla_events, sla_daily, sla_daily_lag TO exchange_runtime;
GRANT SELECT, INSERT ON notices TO exchange_runtime;
GRANT USAGE ON SEQUENCE notices_id_seq TO exchange_runtime;
