package storetest

import (
	"reflect"
	"testing"

	"github.com/exchange-gov/exchange/exchange/sla"
)

// testReasons: flushes add to the stored per-reason counts of a (day,
// dataset, reason); a query selects by dataset and day range, in order.
func testReasons(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	must(t, b.AddReasons(ctx, nil), "empty flush")
	must(t, b.AddReasons(ctx, []sla.ReasonDaily{
		{Day: "2026-11-27", Dataset: "a.x", Reason: "quality:dob_past", Quarantined: 3},
		{Day: "2026-11-27", Dataset: "a.x", Reason: "quality:has_phone", Warned: 2},
		{Day: "2026-11-28", Dataset: "b.y", Reason: "decode:malformed", Quarantined: 1},
	}), "flush 1")
	must(t, b.AddReasons(ctx, []sla.ReasonDaily{
		{Day: "2026-11-27", Dataset: "a.x", Reason: "quality:dob_past", Quarantined: 4, Warned: 1},
		{Day: "2026-11-29", Dataset: "a.x", Reason: "freshness:stale", Quarantined: 5},
	}), "flush 2")
	got, err := b.Reasons(ctx, sla.DailyQuery{Dataset: "a.x", From: "2026-11-27", To: "2026-11-28", Agreement: "ignored"})
	must(t, err, "reasons")
	want := []sla.ReasonDaily{
		{Day: "2026-11-27", Dataset: "a.x", Reason: "quality:dob_past", Quarantined: 7, Warned: 1},
		{Day: "2026-11-27", Dataset: "a.x", Reason: "quality:has_phone", Warned: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reasons of a.x, 27–28 Nov = %+v, want %+v", got, want)
	}
	all, err := b.Reasons(ctx, sla.DailyQuery{})
	must(t, err, "all reasons")
	if len(all) != 4 || all[3].Day != "2026-11-29" || all[2].Dataset != "b.y" {
		t.Fatalf("all reasons = %+v, want 4 rows by day, dataset, reason", all)
	}
}
