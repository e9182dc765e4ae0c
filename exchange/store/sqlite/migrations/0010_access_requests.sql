-- access_requests: the catalog's access requests (package
-- exchange/server/catalogapi). The columns queries select on; the request
-- as the stewards wrote it, and the decision, in body (JSON). Stewards'
-- text only, never a record value.
CREATE TABLE access_requests (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset   TEXT   NOT NULL,
    provider  TEXT   NOT NULL,
    consumer  TEXT   NOT NULL,
    status    TEXT   NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    -- the agreement proposed on acceptance: one request, one agreement
    agreement TEXT   UNIQUE,
    at_us     BIGINT NOT NULL,
    body      TEXT   NOT NULL
);
CREATE INDEX access_requests_provider ON access_requests (provider, id);
CREATE INDEX access_requests_consumer ON access_requests (consumer, id);

-- A decided request is final; nothing deletes one.
CREATE TRIGGER access_requests_final BEFORE UPDATE ON access_requests
WHEN OLD.status <> 'pending'
BEGIN SELECT RAISE(ABORT, 'access_requests: a decided request is final'); END;
CREATE TRIGGER access_requests_no_delete BEFORE DELETE ON access_requests
BEGIN SELECT RAISE(ABORT, 'access_requests: requests are not deleted'); END;
