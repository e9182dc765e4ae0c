// Package postgres is the PostgreSQL 15+ backend of exchange/store, through
// pgx/v5 (pgxpool, extended protocol only, bound parameters only). It
// registers the URL schemes postgres:// and postgresql://.
//
// # Migrations
//
// Versioned SQL files are embedded from migrations/ and applied by Open and
// by `exchange migrate --database URL`, each in a transaction recorded in
// schema_migrations; concurrent migrators wait on a session advisory lock
// and find nothing left to do. The migrating role needs CREATE on the
// schema and CREATEROLE (to create exchange_runtime when missing).
//
// # Roles
//
// The migration creates the NOLOGIN role exchange_runtime with SELECT and
// INSERT on the ledger tables (ledger_entries, ledger_chains,
// ledger_checkpoints) and on documents and agreement_transitions, and never
// UPDATE, DELETE or TRUNCATE on them. Grant it to the login role the
// exchange runs as:
//
//	CREATE ROLE exchange_app LOGIN PASSWORD '…' IN ROLE exchange_runtime;
//
// # Ledger partitions, archiving
//
// ledger_entries is partitioned by month of decision_time (declarative
// RANGE partitioning, UTC months, tables ledger_entries_YYYY_MM). Open
// creates this month's and the next two; Append creates any other month it
// needs through the SECURITY DEFINER function
// exchange_ensure_ledger_partition(timestamptz), so the runtime role needs
// no DDL rights. Each partition carries unique indexes on (topic, partition,
// seq) and (topic, partition, offset).
//
// To archive a month once it is past retention in the database, as the
// table owner (not exchange_runtime):
//
//	exchange audit verify --database URL --public-key ledger.pub   # intact first
//	exchange audit export --database URL --out checkpoints-2025-01.jsonl
//	psql "$URL" -c "SELECT exchange_detach_ledger_partition('ledger_entries_2025_01')"
//	pg_dump --table=ledger_entries_2025_01 --format=custom --file=ledger-2025-01.dump "$URL"
//	psql "$URL" -c "DROP TABLE ledger_entries_2025_01"
//
// exchange_detach_ledger_partition records, per chain, the last seq and hash
// the month holds (table ledger_archives), then detaches the partition.
// Verify resumes each chain from that anchor and lists the anchors it relied
// on; entries missing after an anchor are still reported. Keep the dump with
// the exported checkpoints: together they prove what was archived. Archive
// whole months that are well in the past, so no late entry (clock skew)
// still lands in them.
package postgres
