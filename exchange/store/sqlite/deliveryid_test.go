package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "d.db"), store.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDeliveryIDLocatesEntry: a delivery id names a partition and offset
// but not the topic, so entries of several topics sit at the position it
// names; each id finds exactly the entry whose deliveries hold it.
func TestDeliveryIDLocatesEntry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openTest(t)
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	entry := func(topic string, part int32, off int64, agreements ...string) ledger.Entry {
		e := ledger.Entry{Topic: topic, Partition: part, Offset: off, Dataset: strings.TrimPrefix(topic, "ingress."),
			Decision: ledger.Delivered, PlanVersion: "p", DecisionTime: at.Add(time.Duration(off) * time.Second)}
		for _, a := range agreements {
			e.Deliveries = append(e.Deliveries, ledger.Delivery{AgreementID: a, Topic: "deliver.c." + a,
				DeliveryID: ledger.DeliveryID(a, topic, part, off)})
		}
		if len(agreements) == 0 {
			e.Decision = ledger.Dropped
		}
		return e
	}
	const a, b = "ingress.a.x", "ingress.b.y"
	if err := db.Append(ctx, []ledger.Entry{
		entry(a, 3, 0, "agr-1"), entry(a, 3, 1, "agr-1", "agr-2"), entry(a, 3, 2),
		entry(b, 3, 0, "agr-2"), entry(b, 3, 1, "agr-1"), entry(b, 3, 2, "agr-2"),
		entry(a, 0, 1, "agr-1"),
	}); err != nil {
		t.Fatal(err)
	}
	type pos struct {
		topic string
		part  int32
		off   int64
	}
	for _, tc := range []struct {
		id   string
		want []pos
	}{
		{ledger.DeliveryID("agr-1", a, 3, 0), []pos{{a, 3, 0}}},
		{ledger.DeliveryID("agr-2", b, 3, 0), []pos{{b, 3, 0}}},
		{ledger.DeliveryID("agr-1", a, 3, 1), []pos{{a, 3, 1}}},
		{ledger.DeliveryID("agr-2", a, 3, 1), []pos{{a, 3, 1}}},
		{ledger.DeliveryID("agr-1", b, 3, 1), []pos{{b, 3, 1}}},
		{ledger.DeliveryID("agr-1", a, 0, 1), []pos{{a, 0, 1}}},
		{ledger.DeliveryID("agr-2", b, 3, 2), []pos{{b, 3, 2}}},
		// Well-formed ids with no such delivery.
		{ledger.DeliveryID("agr-2", a, 3, 0), nil},             // entry there, other agreement
		{ledger.DeliveryID("agr-1", b, 3, 0), nil},             // likewise, other topic
		{ledger.DeliveryID("agr-1", a, 3, 2), nil},             // entry without deliveries
		{ledger.DeliveryID("agr-1", a, 3, 7), nil},             // no entry at that offset
		{ledger.DeliveryID("agr-1", a, 5, 0), nil},             // no chain of that partition
		{ledger.DeliveryID("agr-1", "ingress.c.z", 3, 0), nil}, // no such topic
	} {
		for _, sort := range []string{ledger.SortTimeAsc, ledger.SortTimeDesc} {
			p, err := db.Query(ctx, ledger.Query{DeliveryID: tc.id, Sort: sort})
			if err != nil {
				t.Fatal(err)
			}
			var got []pos
			for _, e := range p.Entries {
				got = append(got, pos{e.Topic, e.Partition, e.Offset})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("delivery %s (%s): %v, want %v", tc.id, sort, got, tc.want)
			}
		}
	}
	// Not delivery ids: refused as a bad query.
	for _, id := range []string{"d-agr-1-0", strings.ToUpper(ledger.DeliveryID("agr-1", a, 3, 0))} {
		if _, err := db.Query(ctx, ledger.Query{DeliveryID: id}); !errors.Is(err, ledger.ErrBadQuery) {
			t.Errorf("delivery id %q: err = %v, want ErrBadQuery", id, err)
		}
	}
	// Combined with other filters, the id still decides.
	id := ledger.DeliveryID("agr-1", b, 3, 1)
	for q, want := range map[*ledger.Query]int{
		{DeliveryID: id, Topic: b}:                      1,
		{DeliveryID: id, Topic: a}:                      0,
		{DeliveryID: id, Agreement: "agr-1"}:            1,
		{DeliveryID: id, Agreement: "agr-2"}:            0,
		{DeliveryID: id, From: at.Add(2 * time.Second)}: 0,
	} {
		p, err := db.Query(ctx, *q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != want {
			t.Errorf("%+v: %d entries, want %d", *q, len(p.Entries), want)
		}
	}
}

// TestDeliveryIDQueryPlan: a query by delivery id looks its candidates up
// in the (chain, offset) index, one per chain of the partition,
// rather than scanning the ledger.
func TestDeliveryIDQueryPlan(t *testing.T) {
	db := openTest(t)
	// Appends give the planner no statistics (nothing runs ANALYZE), so
	// an empty database plans as a full one.
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	id := ledger.DeliveryID("agr-1", "ingress.a.x", 3, 12345)
	for name, q := range map[string]ledger.Query{
		"asc":        {DeliveryID: id},
		"desc":       {DeliveryID: id, Sort: ledger.SortTimeDesc},
		"time range": {DeliveryID: id, From: at, To: at.Add(time.Hour)},
		"dataset":    {DeliveryID: id, Dataset: "a.x"},
		"next page":  {DeliveryID: id, After: ledger.Cursor{Time: at, Topic: "ingress.a.x", Partition: 3, Offset: 12345}.Encode()},
	} {
		plan := queryPlan(t, db, q)
		text := strings.Join(plan, "\n")
		t.Logf("%s:\n%s", name, text)
		if !slices.Contains(plan, `SEARCH e USING INDEX sqlite_autoindex_ledger_entries_1 (chain=? AND offset=?)`) {
			t.Errorf("%s: plan does not look the entry up by (chain, offset):\n%s", name, text)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN e ") || step == "SCAN e" {
				t.Errorf("%s: plan scans the ledger:\n%s", name, text)
			}
		}
	}
}
