-- The audit ledger: one row per record decision, hash-chained per source
-- topic-partition, partitioned by month of decision_time so that old months
-- can be detached, archived and dropped whole. Empty lists are stored as
-- NULL (cheaper to write than empty arrays); deliveries are parallel arrays
-- (agreement, topic, delivery id), skips (agreement, reason).
CREATE TABLE ledger_entries (
    topic               text        NOT NULL,
    partition           integer     NOT NULL,
    "offset"            bigint      NOT NULL,
    seq                 bigint      NOT NULL,
    dataset             text        NOT NULL,
    key_hash            bytea,
    payload_hash        bytea,
    schema_id           bigint      NOT NULL,
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

-- Indexes on the parent apply to every monthly partition. The chain's
-- unique keys, (topic, partition, seq) and (topic, partition, offset), are
-- created on each partition by exchange_ensure_ledger_partition: a unique
-- index on the parent would have to include decision_time.
-- Few indexes, because every one costs on the append path: the keyset
-- order of audit queries, and delivery ids for lineage. Other filters
-- (dataset, agreement, consumer, reason, subject) scan the partitions a time
-- range selects.
CREATE INDEX ledger_entries_time ON ledger_entries (decision_time, topic, partition, "offset");
CREATE INDEX ledger_entries_delivery_ids ON ledger_entries USING gin (delivery_ids);

-- Every chain ever written; verify lists chains from here.
CREATE TABLE ledger_chains (
    topic      text        NOT NULL,
    partition  integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Signed checkpoints: (chain, seq, hash, time) signed with Ed25519.
CREATE TABLE ledger_checkpoints (
    topic      text        NOT NULL,
    partition  integer     NOT NULL,
    seq        bigint      NOT NULL,
    hash       bytea       NOT NULL,
    signed_at  timestamptz NOT NULL,
    key_id     text        NOT NULL,
    public_key bytea       NOT NULL,
    signature  bytea       NOT NULL,
    PRIMARY KEY (topic, partition, seq)
);

-- Creates the month partition holding t, with the chain's unique keys, if
-- it does not exist. SECURITY DEFINER: the runtime role may call it without
-- owning the table. Serialised by an advisory lock, so concurrent writers
-- racing into a new month do not collide.
CREATE FUNCTION exchange_ensure_ledger_partition(t timestamptz) RETURNS text
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
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (topic, partition, seq)', name || '_chain_seq', name);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (topic, partition, "offset")', name || '_chain_offset', name);
    RETURN name;
END
$$;

-- The runtime role: reads everything, appends to the ledger, and can never
-- UPDATE, DELETE or TRUNCATE ledger rows. Grant it to the login role the
-- exchange connects as: GRANT exchange_runtime TO exchange_app;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'exchange_runtime') THEN
        CREATE ROLE exchange_runtime NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON ledger_entries, ledger_chains, ledger_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_entries, ledger_chains, ledger_checkpoints TO exchange_runtime;
GRANT SELECT, INSERT ON documents, agreement_transitions TO exchange_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON registry_schemas, registry_versions, registry_config TO exchange_runtime;
GRANT SELECT ON schema_migrations TO exchange_runtime;
REVOKE ALL ON FUNCTION exchange_ensure_ledger_partition(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange_ensure_ledger_partition(timestamptz) TO exchange_runtime;
