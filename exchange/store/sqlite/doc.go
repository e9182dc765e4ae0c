// Package sqlite is the embedded SQLite backend of exchange/store
// (modernc.org/sqlite, no cgo), used by `exchange dev` under its data dir.
// It registers the URL scheme sqlite: — sqlite:///abs/path/file.db or
// sqlite:relative/path.db.
//
// The database runs in WAL mode with synchronous=FULL (a commit is on disk
// when it returns) and busy_timeout 10 s. All writes go through one
// connection and start with BEGIN IMMEDIATE, so writers — including other
// processes on the same file — serialise on the file's write lock; reads
// use a separate pool and do not wait for writers.
//
// The ledger's append path is built for throughput without giving up a
// guarantee: one transaction per batch (one WAL fsync), multi-row INSERTs,
// and few indexes. Since migration 0005 a chain (source topic-partition)
// has a small integer id in ledger_chains, which also holds its dataset;
// an entry's row carries the id instead of the topic, partition and
// dataset text (dataset only when it differs from the chain's). The row id
// is (chain << 40) | seq, so the table is in chain order and needs no
// index for it; UNIQUE (chain, offset) is idempotency and the fork guard;
// the keyset time index is on decision_time_us alone. The fields no query
// filters on (key and payload hash, schema id, event time, previous hash)
// are one BLOB (fields.go), and empty lists are NULL: 13 bound values per
// row instead of 18. Nothing is written per delivery but its place in the
// entry's row. Deliveries, skips and reasons live inline in the hashed
// entry row as JSON; filters on dataset, agreement, consumer, reason and
// subject scan the rows a time range selects, as on PostgreSQL.
//
// Audit queries without a topic or delivery id read the time index
// (INDEXED BY: without statistics the planner would sort every entry
// selected) and sort the entries of one decision time at a time into
// (topic, partition, offset) order, so a page stops after its last time
// value. Rows written before 0005 were copied with their hashes; their
// stored delivery ids are kept as they were written.
//
// A delivery id (ledger.DeliveryID) names its source partition and offset
// after a tag of the agreement and source topic, and appends refuse any
// other id. A query by delivery id (lineage) therefore needs no index of
// its own: for each chain of that partition (ledger_chains) it looks up the
// entry at that offset in the (chain, offset) index and keeps it if its
// deliveries list the id. Migration 0004 dropped the index that lookups
// used before (ledger_delivery_keys: a 32-bit hash of each delivery id →
// entry, a B-tree insert at a random place per delivery). Entries stored
// before delivery ids took this form carry opaque ids: they are still
// found by agreement, consumer, time or position, but no longer by their
// delivery ids.
//
// Migrations are embedded from migrations/ and applied by Open (and
// `exchange migrate`), each in a transaction with its schema_migrations row.
// Triggers refuse UPDATE and DELETE on the ledger tables (ledger_entries,
// ledger_chains, ledger_checkpoints); anyone who can write the file can
// drop them, which is why `exchange audit verify` and exported signed
// checkpoints exist.
package sqlite
