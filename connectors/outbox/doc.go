// Package outbox is the database outbox connector: it publishes the rows an
// agency's system writes to an outbox table in its own PostgreSQL database
// to the ingress topics of the exchange, at least once and in order per
// record key, acting as that agency (IDENTITY.md: its Kafka user, its
// registry credentials).
//
// # The outbox table
//
// The agency's system inserts one row per record, in the same transaction
// as the business change it reports (the transactional outbox pattern):
//
//	CREATE TABLE exchange_outbox (
//	    id         bigserial   PRIMARY KEY,
//	    dataset    text        NOT NULL,              -- <agency>.<name>, e.g. health.immunisations
//	    payload    jsonb       NOT NULL,              -- one record as `exchange publish` reads it
//	    created_at timestamptz NOT NULL DEFAULT now()
//	);
//
// payload is converted with the latest schema of subject
// ingress.<dataset>-value exactly as `exchange publish` converts a JSON line
// (exchange/publish.Encoder); the record key is the schema's key field as
// publish chooses it (record_id when the schema has one, or the field
// Config.KeyFields names for the dataset). Rows are inserted, never updated.
//
// # Modes
//
// replication (the default when the database role may replicate): logical
// replication (github.com/jackc/pglogrepl, pgoutput plugin) from a
// publication on the outbox table (inserts only) through a persistent
// replication slot. Committed inserts arrive in commit order; they are
// produced with acks=all, then deleted from the outbox (dead letters
// stored), and only then is the slot's confirmed LSN (the stored position)
// advanced past their transactions. At every start the rows still in the
// table up to its highest id are first published and deleted as poll does:
// rows written before the slot existed, or published but not yet deleted
// when the connector stopped; everything committed later comes from the
// slot. A restart resumes at the slot's position: rows after it are
// published again (at least once), none are skipped. The agency's system
// may also delete its rows in the transaction that inserts them (they
// still reach the connector through the WAL). Needs wal_level=logical, a
// role with REPLICATION that owns the table (for CREATE PUBLICATION), and a
// free slot; an unused slot holds WAL on the agency's server, so drop it
// (SELECT pg_drop_replication_slot('<slot>')) when the connector is
// retired.
//
// poll (where the agency cannot grant replication): in one transaction,
//
//	SELECT id, dataset, payload, created_at FROM exchange_outbox
//	 ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED
//
// then produce with acks=all, then DELETE the rows, then COMMIT: the table
// is the position, and a crash before COMMIT leaves the rows to be
// published again. Order per key: one poller per table is active at a time
// (a transaction-scoped advisory lock on the table's name; other instances
// stand by), and rows go out in id order, which for rows of one key
// inserted by successive transactions is their commit order. The limits:
// throughput is one poller's, and SKIP LOCKED passes over rows another
// session holds locked, so the agency's own code must not lock outbox rows
// (it only inserts them) or those rows may go out after later rows of
// their key.
//
// Privileges on the agency's database, both modes: SELECT, UPDATE (for
// FOR UPDATE) and DELETE on the outbox table; INSERT on the dead-letter
// table, and CREATE on its schema unless the table is created beforehand.
//
// # Rows that do not fit
//
// A row whose payload does not fit the dataset's latest schema (checked
// again after refetching the schema, in case it evolved), whose dataset is
// not one of the agency's (`<agency>.<name>`), or that is not a JSON object
// is never silently dropped: it is moved to the dead-letter table
//
//	CREATE TABLE exchange_outbox_dead (
//	    id bigint PRIMARY KEY, dataset text NOT NULL, payload jsonb NOT NULL,
//	    created_at timestamptz NOT NULL, error text NOT NULL,
//	    failed_at timestamptz NOT NULL DEFAULT now()
//	);
//
// (created if missing) with the error naming the field, logged without the
// payload, and counted in exchange_outbox_rows_dead_lettered_total, which
// an alert should watch. Its position is passed only once the dead letter
// is stored. A schema the registry cannot serve or a produce Kafka refuses
// is not the row's fault: the batch is retried with backoff (the row
// holds, later rows wait) and counted in exchange_outbox_failures_total.
//
// # Metrics
//
// Registered on the prometheus.Registerer of WithRegisterer, each with the
// constant label agency:
//
//	exchange_outbox_rows_published_total{dataset}      rows Kafka acknowledged
//	exchange_outbox_rows_dead_lettered_total{dataset}  rows moved to the dead-letter table
//	exchange_outbox_failures_total{stage}              batches that failed (stage: database, schema, produce, replication)
//	exchange_outbox_lag_seconds                        age of the oldest row read and not yet published (grows while publishing fails); 0 when caught up
//
// # Running it
//
//	exchange connect outbox --config outbox.yaml
//
// or inside `exchange serve` (the connectors: outboxes: list of
// exchange.yaml) and `exchange dev --outbox outbox.yaml`. In Go:
//
//	cfg, err := outbox.Load("outbox.yaml")
//	c, err := outbox.New(cfg, kc, registryClient, outbox.WithLogger(log))
//	err = c.Run(ctx) // returns when ctx is done
package outbox
