-- Archiving old months. exchange_detach_ledger_partition records, for every
-- chain in a month partition, the last (seq, hash) it holds, then detaches
-- the partition so it can be dumped and dropped. Verify resumes each chain
-- from its anchor. Only the table owner may call it (not exchange_runtime).
CREATE TABLE ledger_archives (
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    up_to_seq      bigint      NOT NULL,
    hash           bytea       NOT NULL,
    partition_name text        NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, up_to_seq)
);
GRANT SELECT ON ledger_archives TO exchange_runtime;

CREATE FUNCTION exchange_detach_ledger_partition(name text) RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    n integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_inherits i
                   JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = 'ledger_entries'::regclass AND c.relname = name) THEN
        RAISE EXCEPTION 'no ledger partition named %', name;
    END IF;
    EXECUTE format('INSERT INTO ledger_archives (topic, partition, up_to_seq, hash, partition_name)
        SELECT DISTINCT ON (topic, partition) topic, partition, seq, hash, %L
        FROM %I ORDER BY topic, partition, seq DESC', name, name);
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('ALTER TABLE ledger_entries DETACH PARTITION %I', name);
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION exchange_detach_ledger_partition(text) FROM PUBLIC;
