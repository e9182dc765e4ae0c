// Package store opens the exchange's database by URL and defines the
// storage interfaces the domain packages do not own themselves.
//
// One database holds the schema registry (schemas.Store), every version of
// every contract, agreement and agency document with each lifecycle
// transition (AgreementStore), agreements' lifecycle state and approvals
// (LifecycleStore, changed by package stewardship), and the audit ledger (ledger.Appender,
// ledger.Reader, ledger.Source). Two backends register themselves:
//
//	import (
//		"github.com/exchange-gov/exchange/exchange/store"
//		_ "github.com/exchange-gov/exchange/exchange/store/postgres" // postgres://…
//		_ "github.com/exchange-gov/exchange/exchange/store/sqlite"   // sqlite:///path/file.db
//	)
//
//	key, err := ledger.LoadOrCreateKey(filepath.Join(dataDir, "ledger-signing.key"))
//	db, err := store.Open(ctx, url, store.WithSigningKey(key), store.WithLogger(log))
//	defer db.Close()
//	err = db.Append(ctx, entries) // durable on return; idempotent per topic/partition/offset
//
// Open applies pending migrations (embedded in the binary) unless
// WithoutMigrate is given; `exchange migrate --database URL` applies them
// explicitly. Store errors caused by an unreachable database wrap
// ledger.ErrUnavailable, so the runtime can fail closed and retry.
//
// What both backends do alike lives here once, and the backends keep only
// their SQL: the input checks and version rules (inputs.go: CheckText,
// PrepareDocument, NextVersion; stewardship.go: Lifecycle.Settle), the
// registry's input checks and error context (NewSchemaStore over a
// backend's SchemaRows), and the read loop of ledger entries (EachEntry).
// The ledger's own rules stay in exchange/ledger (NewBatch, Batch.Fresh,
// Query.Normalize and PageOf).
package store
