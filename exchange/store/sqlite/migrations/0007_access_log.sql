-- access_log: every data-subject query of the audit API (who, when, the
-- stated purpose, what was asked), written before it is answered.
CREATE TABLE access_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us   BIGINT NOT NULL,
    who     TEXT   NOT NULL,
    purpose TEXT   NOT NULL,
    query   TEXT   NOT NULL
);

-- Append-only, as the ledger: the log of who read a data subject is not
-- edited.
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END;
