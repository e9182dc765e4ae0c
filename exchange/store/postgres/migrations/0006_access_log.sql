-- access_log: every data-subject query of the audit API (who, when, the
-- stated purpose, what was asked), written before it is answered.
CREATE TABLE access_log (
    id      BIGSERIAL PRIMARY KEY,
    at_us   BIGINT NOT NULL,
    who     TEXT   NOT NULL,
    purpose TEXT   NOT NULL,
    query   TEXT   NOT NULL
);
