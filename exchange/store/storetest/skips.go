package storetest

import (
	"reflect"
	"testing"

	"github.com/exchange-gov/exchange/exchange/sla"
)

// testSkips: flushes add to the stored skip counts of a (day, dataset,
// agreement, reason); a query selects by dataset, agreement and day
// range, in order; AgreementNone selects nothing.
func testSkips(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	must(t, b.AddSkips(ctx, nil), "empty flush")
	must(t, b.AddSkips(ctx, []sla.SkipDaily{
		{Day: "2026-11-27", Dataset: "a.x", Agreement: "ag-1", Reason: "revoked", Skipped: 3},
		{Day: "2026-11-27", Dataset: "a.x", Agreement: "ag-1", Reason: "filter", Skipped: 2},
		{Day: "2026-11-27", Dataset: "a.x", Agreement: "ag-2", Reason: "stale", Skipped: 1},
		{Day: "2026-11-28", Dataset: "b.y", Agreement: "ag-3", Reason: "suspended", Skipped: 1},
	}), "flush 1")
	must(t, b.AddSkips(ctx, []sla.SkipDaily{
		{Day: "2026-11-27", Dataset: "a.x", Agreement: "ag-1", Reason: "revoked", Skipped: 4},
		{Day: "2026-11-29", Dataset: "a.x", Agreement: "ag-1", Reason: "expired", Skipped: 5},
	}), "flush 2")
	got, err := b.Skips(ctx, sla.DailyQuery{Dataset: "a.x", Agreement: "ag-1", From: "2026-11-27", To: "2026-11-28"})
	must(t, err, "skips")
	want := []sla.SkipDaily{
		{Day: "2026-11-27", Dataset: "a.x", Agreement: "ag-1", Reason: "filter", Skipped: 2},
		{Day: "2026-11-27", Dataset: "a.x", Agreement: "ag-1", Reason: "revoked", Skipped: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("skips of a.x under ag-1, 27–28 Nov = %+v, want %+v", got, want)
	}
	all, err := b.Skips(ctx, sla.DailyQuery{})
	must(t, err, "all skips")
	if len(all) != 5 || all[2].Agreement != "ag-2" || all[3].Dataset != "b.y" || all[4].Day != "2026-11-29" {
		t.Fatalf("all skips = %+v, want 5 rows by day, dataset, agreement, reason", all)
	}
	none, err := b.Skips(ctx, sla.DailyQuery{Agreement: sla.AgreementNone})
	must(t, err, "no agreement")
	if len(none) != 0 {
		t.Fatalf("skips without an agreement = %+v, want none", none)
	}
}
