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
// Migrations are embedded from migrations/ and applied by Open (and
// `exchange migrate`), each in a transaction with its schema_migrations row.
// Triggers refuse UPDATE and DELETE on the ledger tables; anyone who can
// write the file can drop them, which is why `exchange audit verify` and
// exported signed checkpoints exist.
package sqlite
