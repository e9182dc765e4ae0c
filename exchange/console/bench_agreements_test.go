package console

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
)

// benchAgreement is the example agreement the benchmark's agreement page
// shows (its SLA rows are seeded by seedLedger under benchAgreement too).
const benchAgreement = "health-to-statistics-2026-002"

// benchStewardship is a lifecycle service over db holding the example
// agreements, seeded from their files as exchange dev does.
func benchStewardship(ctx context.Context, b *testing.B, db store.Backend) *stewardship.Service {
	dir := "../../deploy/examples"
	set, err := agreements.LoadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	svc := stewardship.New(db)
	svc.SetPolicy(set)
	paths, err := agreements.Files(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		one, err := agreements.Load(filepath.Base(p), text)
		if err != nil || len(one.Agreements) != 1 {
			continue // not an agreement document
		}
		if _, err := svc.SyncFile(ctx, filepath.Base(p), text, &one.Agreements[0], true); err != nil {
			b.Fatalf("seeding %s: %v", p, err)
		}
	}
	return svc
}
