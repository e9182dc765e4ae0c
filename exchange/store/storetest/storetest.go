// Package storetest is the conformance suite every store.Backend passes:
// the ledger (append, idempotency, chains, concurrency, checkpoints,
// queries, tamper detection), the agreements store, the timeliness store (last accepted records, SLA events and aggregates, notices) and, through
// schemas/schematest, the registry store. Backends run it from their tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{Open: openFresh, Exec: superuserExec})
//	}
package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/schematest"
)

// Harness tells the suite how to reach a backend.
type Harness struct {
	// Open returns a fresh, empty, migrated backend with opts applied, and
	// registers its cleanup with t.
	Open func(t *testing.T, opts ...store.Option) store.Backend
	// Exec runs a statement on the backend's database with full rights,
	// bypassing the store (tamper tests). Placeholders are $1, $2, …
	Exec func(t *testing.T, b store.Backend, sql string, args ...any)
	// EntryWhere is the SQL condition selecting the ledger_entries row of
	// one entry by $1 topic, $2 partition and $3 offset. Default:
	// `topic = $1 AND partition = $2 AND "offset" = $3`.
	EntryWhere string
}

func (h Harness) entryWhere() string {
	if h.EntryWhere != "" {
		return h.EntryWhere
	}
	return `topic = $1 AND partition = $2 AND "offset" = $3`
}

// Run runs every conformance test.
func Run(t *testing.T, h Harness) {
	t.Run("Ledger", func(t *testing.T) { RunLedger(t, h) })
	t.Run("Index", func(t *testing.T) { RunIndex(t, h) })
	t.Run("Agreements", func(t *testing.T) { RunAgreements(t, h) })
	t.Run("Timeliness", func(t *testing.T) { RunTimeliness(t, h) })
	t.Run("Verifications", func(t *testing.T) { testVerifications(t, h) })
	t.Run("AccessLog", func(t *testing.T) { RunAccessLog(t, h) })
	t.Run("IngestKeys", func(t *testing.T) { RunIngestKeys(t, h) })
	t.Run("AccessRequests", func(t *testing.T) { RunAccessRequests(t, h) })
	t.Run("Registry", func(t *testing.T) {
		schematest.RunStoreConformance(t, func(t *testing.T) schemas.Store { return h.Open(t).Schemas() })
	})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestKey returns a fresh Ed25519 key.
func TestKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

var baseTime = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func must(t testing.TB, err error, what string, a ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, a...), err)
	}
}
