-- Leaner ledger rows. The append path pays per row and per index entry, on
-- the same cores as the brokers and the exchange:
-- * a chain gets a small integer id; entries carry it instead of the
--   topic, partition and dataset text, which ledger_chains holds once, and
--   the chain's unique keys compare integers, not collated text;
-- * no GIN index on delivery ids: a delivery id names its source partition
--   and offset (ledger.LocateDelivery), so lineage finds it through the
--   (chain, offset) key; and new rows do not store them (delivery_ids is
--   NULL): they are ledger.DeliveryID of the row's agreements and source,
--   which every append checks, and are derived on read. Rows copied from
--   the old layout keep the ids they were written with;
-- * the keyset index is on decision_time alone: the entries of one batch
--   share it, and ties are put in (topic, partition, offset) order by an
--   incremental sort.
-- Existing entries are copied with their hashes (a hash covers the logical
-- entry, not its storage), then the old tables are dropped.

ALTER TABLE ledger_chains ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY;
ALTER TABLE ledger_chains ADD CONSTRAINT ledger_chains_id_key UNIQUE (id);
ALTER TABLE ledger_chains ADD COLUMN dataset text NOT NULL DEFAULT '';
INSERT INTO ledger_chains (topic, partition)
    SELECT DISTINCT topic, partition FROM ledger_entries ON CONFLICT DO NOTHING;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries GROUP BY topic, partition HAVING count(DISTINCT dataset) > 1) THEN
        RAISE EXCEPTION 'a ledger chain holds entries of more than one dataset; the chain-level dataset of migration 0004 cannot represent it';
    END IF;
END
$$;
UPDATE ledger_chains c SET dataset = e.dataset
    FROM (SELECT DISTINCT ON (topic, partition) topic, partition, dataset FROM ledger_entries ORDER BY topic, partition) e
    WHERE e.topic = c.topic AND e.partition = c.partition;
-- Chains whose entries were all archived: the ingress naming convention.
UPDATE ledger_chains SET dataset = regexp_replace(topic, '^ingress\.', '') WHERE dataset = '';

-- Move the old layout aside (tables and their indexes keep being named
-- after the month, so they are renamed with a v1_ prefix).
DO $$
DECLARE
    p  record;
    ix record;
BEGIN
    FOR p IN SELECT c.oid, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'ledger_entries'::regclass LOOP
        FOR ix IN SELECT ic.relname FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = p.oid LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.relname, left('v1_' || ix.relname, 63));
        END LOOP;
        EXECUTE format('ALTER TABLE %I RENAME TO %I', p.relname, 'v1_' || p.relname);
    END LOOP;
END
$$;
ALTER TABLE ledger_entries RENAME TO v1_ledger_entries;
ALTER INDEX ledger_entries_time RENAME TO v1_ledger_entries_time;
ALTER INDEX ledger_entries_delivery_ids RENAME TO v1_ledger_entries_delivery_ids;

-- One row per record decision, hash-chained per chain (source
-- topic-partition), partitioned by month of decision_time. Empty lists are
-- NULL; deliveries are parallel arrays (agreement, topic, delivery id),
-- skips (agreement, reason).
CREATE TABLE ledger_entries (
    chain               integer     NOT NULL,
    "offset"            bigint      NOT NULL,
    seq                 bigint      NOT NULL,
    key_hash            bytea,
    payload_hash        bytea,
    schema_id           integer     NOT NULL,
    decision            text        NOT NULL,
    reasons             text[],
    delivery_agreements text[],
    delivery_topics     text[],
    delivery_ids        text[],
    skip_agreements     text[],
    skip_reasons        text[],
    plan_version        text        NOT NULL,
    subject_hash        bytea,
    event_time_us       bigint,
    decision_time       timestamptz NOT NULL,
    prev_hash           bytea,
    hash                bytea       NOT NULL
) PARTITION BY RANGE (decision_time);
CREATE INDEX ledger_entries_time ON ledger_entries (decision_time);
REVOKE ALL ON ledger_entries FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_entries TO exchange_runtime;

-- The month partition holding t, with the chain's unique keys (chain, seq)
-- and (chain, offset); a unique index on the parent would have to include
-- decision_time. The runtime role may insert into it directly: a COPY into
-- the month's table skips per-row partition routing. SECURITY DEFINER so
-- the runtime role may call it; serialised by an advisory lock.
CREATE OR REPLACE FUNCTION exchange_ensure_ledger_partition(t timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
SET TimeZone = 'UTC'
AS $$
DECLARE
    lo   timestamptz := date_trunc('month', t);
    hi   timestamptz := date_trunc('month', t) + interval '1 month';
    name text := 'ledger_entries_' || to_char(date_trunc('month', t), 'YYYY_MM');
BEGIN
    PERFORM pg_advisory_xact_lock(7170366480021437185);
    IF EXISTS (SELECT 1 FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'ledger_entries'::regclass AND c.relname = name) THEN
        RETURN name;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF ledger_entries FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (chain, seq)', name || '_chain_seq', name);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (chain, "offset")', name || '_chain_offset', name);
    EXECUTE format('GRANT SELECT, INSERT ON %I TO exchange_runtime', name);
    RETURN name;
END
$$;

DO $$
DECLARE
    m timestamptz;
BEGIN
    FOR m IN SELECT DISTINCT date_trunc('month', decision_time) FROM v1_ledger_entries LOOP
        PERFORM exchange_ensure_ledger_partition(m);
    END LOOP;
END
$$;
INSERT INTO ledger_entries
    SELECT c.id, e."offset", e.seq, e.key_hash, e.payload_hash, e.schema_id, e.decision, e.reasons,
           e.delivery_agreements, e.delivery_topics, e.delivery_ids, e.skip_agreements, e.skip_reasons,
           e.plan_version, e.subject_hash, e.event_time_us, e.decision_time, e.prev_hash, e.hash
    FROM v1_ledger_entries e JOIN ledger_chains c ON c.topic = e.topic AND c.partition = e.partition;
DROP TABLE v1_ledger_entries;

CREATE OR REPLACE FUNCTION exchange_detach_ledger_partition(name text) RETURNS integer
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
        SELECT DISTINCT ON (e.chain) c.topic, c.partition, e.seq, e.hash, %L
        FROM %I e JOIN ledger_chains c ON c.id = e.chain ORDER BY e.chain, e.seq DESC', name, name);
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('ALTER TABLE ledger_entries DETACH PARTITION %I', name);
    RETURN n;
END
$$;
