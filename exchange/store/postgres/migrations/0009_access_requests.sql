-- access_requests: the catalog's access requests (package
-- exchange/server/catalogapi). The columns queries select on; the request
-- as the stewards wrote it, and the decision, in body (JSON). Stewards'
-- text only, never a record value.
CREATE TABLE access_requests (
    id        BIGSERIAL PRIMARY KEY,
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

-- A decided request is final.
CREATE FUNCTION access_requests_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_requests: a decided request is final';
END $$;
CREATE TRIGGER access_requests_final BEFORE UPDATE ON access_requests
FOR EACH ROW WHEN (OLD.status <> 'pending') EXECUTE FUNCTION access_requests_final();

-- The runtime files and decides requests (UPDATE of a pending row only);
-- nothing deletes one.
REVOKE ALL ON access_requests FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON access_requests TO exchange_runtime;
GRANT USAGE ON SEQUENCE access_requests_id_seq TO exchange_runtime;
