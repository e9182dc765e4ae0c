package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// TestDeliveryKeyCollision: two delivery ids sharing a key, in two entries
// and together in a third, are each found exactly where they are.
func TestDeliveryKeyCollision(t *testing.T) {
	seen := map[int64]string{}
	var x, y string
	for i := 0; x == ""; i++ {
		id := fmt.Sprintf("d-%d", i)
		k := deliveryKey(id)
		if other, ok := seen[k]; ok {
			x, y = other, id
		}
		seen[k] = id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), store.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	entry := func(off int64, ids ...string) ledger.Entry {
		e := ledger.Entry{Topic: "ingress.a.b", Offset: off, Dataset: "a.b", Decision: ledger.Delivered, PlanVersion: "p", DecisionTime: at}
		for _, id := range ids {
			e.Deliveries = append(e.Deliveries, ledger.Delivery{AgreementID: "agr", Topic: "deliver.c.agr", DeliveryID: id})
		}
		return e
	}
	if err := db.Append(ctx, []ledger.Entry{entry(0, x), entry(1, y), entry(2, x, y)}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]int64{x: {0, 2}, y: {1, 2}} {
		p, err := db.Query(ctx, ledger.Query{DeliveryID: id})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range p.Entries {
			got = append(got, e.Offset)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("delivery %s: offsets %v, want %v", id, got, want)
		}
	}
}
