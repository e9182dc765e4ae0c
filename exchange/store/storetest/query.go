package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

func querySetup(t *testing.T, h Harness) ledgerReader {
	b := h.Open(t)
	ctx := testCtx(t)
	// 60 entries of health (offsets 0..59 → 20 of each decision) and 30 of tax.
	must(t, b.Append(ctx, Entries("ingress.health.immunisations", 0, 0, 30)), "append")
	must(t, b.Append(ctx, Entries("ingress.health.immunisations", 1, 0, 30)), "append")
	must(t, b.Append(ctx, Entries("ingress.tax.returns", 0, 0, 30)), "append")
	return b
}

type ledgerReader interface{ ledger.Reader }

func count(t *testing.T, r ledgerReader, q ledger.Query) int {
	t.Helper()
	q.Limit = ledger.MaxLimit
	p, err := r.Query(testCtx(t), q)
	must(t, err, "query %+v", q)
	if p.Next != "" {
		t.Fatalf("query %+v: unexpected next page", q)
	}
	return len(p.Entries)
}

func testQuery(t *testing.T, h Harness) {
	r := querySetup(t, h)
	p1, o7 := int32(1), int64(7)
	for _, tc := range []struct {
		name string
		q    ledger.Query
		want int
	}{
		{"all", ledger.Query{}, 90},
		{"dataset", ledger.Query{Dataset: "health.immunisations"}, 60},
		{"decision", ledger.Query{Decision: ledger.Quarantined}, 30},
		{"dataset+decision", ledger.Query{Dataset: "tax.returns", Decision: ledger.Delivered}, 10},
		{"agreement delivered or skipped", ledger.Query{Agreement: "hlth-stat-01"}, 60},
		{"agreement skipped only", ledger.Query{Agreement: "hlth-tax-03"}, 60},
		{"consumer", ledger.Query{Consumer: "social-services"}, 30},
		{"reason", ledger.Query{Reason: "freshness:stale"}, 30},
		{"delivery id", ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.health.immunisations", 1, 9)}, 1},
		{"delivery id, same position on another topic", ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.tax.returns", 0, 9)}, 1},
		{"delivery id of a record without deliveries", ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.health.immunisations", 1, 10)}, 0},
		{"delivery id with another agreement's tag", ledger.Query{DeliveryID: ledger.DeliveryID("hlth-tax-03", "ingress.health.immunisations", 1, 9)}, 0},
		{"data subject", ledger.Query{SubjectHash: sum("subject-5")}, 6},
		{"time range", ledger.Query{From: baseTime.Add(10 * time.Millisecond), To: baseTime.Add(20 * time.Millisecond)}, 30},
		{"position", ledger.Query{Topic: "ingress.health.immunisations", Partition: &p1, Offset: &o7}, 1},
		{"topic", ledger.Query{Topic: "ingress.tax.returns"}, 30},
		{"injection attempt is just a value", ledger.Query{Dataset: "x' OR '1'='1"}, 0},
	} {
		if got := count(t, r, tc.q); got != tc.want {
			t.Errorf("%s: %d entries, want %d", tc.name, got, tc.want)
		}
	}
	for name, q := range map[string]ledger.Query{
		"sort key":      {Sort: "decision_time; DROP TABLE ledger_entries"},
		"limit":         {Limit: ledger.MaxLimit + 1},
		"cursor":        {After: "!!!"},
		"decision":      {Decision: "x"},
		"offset alone":  {Offset: &o7},
		"cursor orders": {After: ledger.Cursor{Desc: true}.Encode()},
		"delivery id":   {DeliveryID: "nope"},
	} {
		if _, err := r.Query(testCtx(t), q); !errors.Is(err, ledger.ErrBadQuery) {
			t.Errorf("bad %s: err = %v, want ErrBadQuery", name, err)
		}
	}
}

func testQueryPagination(t *testing.T, h Harness) {
	r := querySetup(t, h)
	for _, sort := range []string{ledger.SortTimeAsc, ledger.SortTimeDesc} {
		var got []ledger.Entry
		q := ledger.Query{Dataset: "health.immunisations", Limit: 7, Sort: sort}
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			p, err := r.Query(testCtx(t), q)
			must(t, err, "page %d", pages)
			got = append(got, p.Entries...)
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
		if len(got) != 60 {
			t.Fatalf("%s: paged through %d entries, want 60", sort, len(got))
		}
		seen := map[[2]int64]bool{}
		for i, e := range got {
			k := [2]int64{int64(e.Partition), e.Offset}
			if seen[k] {
				t.Fatalf("%s: entry %v twice", sort, k)
			}
			seen[k] = true
			if i > 0 {
				prev := got[i-1]
				before := prev.DecisionTime.Before(e.DecisionTime) || (prev.DecisionTime.Equal(e.DecisionTime) && prev.Partition < e.Partition)
				if sort == ledger.SortTimeDesc {
					before = e.DecisionTime.Before(prev.DecisionTime) || (prev.DecisionTime.Equal(e.DecisionTime) && prev.Partition > e.Partition)
				}
				if !before {
					t.Fatalf("%s: entries %d and %d out of order", sort, i-1, i)
				}
			}
		}
	}
}
