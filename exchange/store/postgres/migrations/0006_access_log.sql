-- access_log: every data-subject query of the audit API (who, when, the
-- stated purpose, what was asked), written before it is answered.
CREATE TABLE access_log (
    id      BIGSERIAL PRIMARY KEY,
    at_us   BIGINT NOT NULL,
    who     TEXT   NOT NULL,
    purpose TEXT   NOT NULL,
    query   TEXT   NOT NULL
);

-- Append-only for the runtime: the log of who read a data subject must not
-- be editable by the process it audits.
REVOKE ALL ON access_log FROM PUBLIC;
GRANT SELECT, INSERT ON access_log TO exchange_runtime;
GRANT USAGE ON SEQUENCE access_log_id_seq TO exchange_runtime;
