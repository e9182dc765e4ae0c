package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite" // registers sqlite:// URLs
)

// Open picks the backend registered for the URL's scheme (a blank import
// registers it) and migrates the database. Appends are durable on return and
// idempotent per source position, so the retried append below stores
// nothing more.
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "exchange-store-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	db, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "exchange.db")) // or postgres://…
	if err != nil {
		fmt.Println("opening the store:", err)
		return
	}
	defer db.Close()

	value := sha256.Sum256([]byte("the record's value"))
	entry := ledger.Entry{
		Topic: "ingress.health.immunisations", Partition: 0, Offset: 41,
		Dataset: "health.immunisations", PayloadHash: value[:], Decision: ledger.Dropped,
		DecisionTime: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
	}
	for range 2 { // a retry after an unknown outcome
		if err := db.Append(ctx, []ledger.Entry{entry}); err != nil {
			fmt.Println("appending:", err)
			return
		}
	}
	highest, err := db.HighestOffset(ctx, ledger.Chain{Topic: entry.Topic, Partition: entry.Partition})
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("highest audited offset %d; %d entry, ledger ok: %v\n", highest, rep.Entries, rep.OK())
	// Output:
	// highest audited offset 41; 1 entry, ledger ok: true
}
