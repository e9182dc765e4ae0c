-- Silence per agreement (package exchange/timeliness): each agreement's last
-- delivery decision time, the maximum of every process's flushes, next to
-- dataset_last_accepted. Microseconds since the Unix epoch.

CREATE TABLE agreement_last_delivered (
    agreement TEXT PRIMARY KEY,
    last_us   BIGINT NOT NULL
);
