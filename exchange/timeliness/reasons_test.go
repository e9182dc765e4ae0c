package timeliness_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
)

// TestAggregatorKeepsReasonCounts: the batches' quarantine and warning
// counts per reason code reach the store's per-reason daily rows at the
// flush, added across batches and split by day.
func TestAggregatorKeepsReasonCounts(t *testing.T) {
	ctx := context.Background()
	db, agg := sqliteAggregator(t)
	day1 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	q := exchange.DatasetLabel{Dataset: dataset, Label: "quality:id_set"}
	w := exchange.DatasetLabel{Dataset: dataset, Label: "quality:has_phone"}
	agg.ObserveActivity(exchange.BatchActivity{At: day1, Quarantined: map[exchange.DatasetLabel]int{q: 2}, Warned: map[exchange.DatasetLabel]int{w: 1}})
	agg.ObserveActivity(exchange.BatchActivity{At: day1, Quarantined: map[exchange.DatasetLabel]int{q: 3}})
	agg.Flush(ctx, day1)
	agg.ObserveActivity(exchange.BatchActivity{At: day2, Quarantined: map[exchange.DatasetLabel]int{q: 1}})
	agg.Flush(ctx, day2)
	got, err := db.Reasons(ctx, sla.DailyQuery{Dataset: dataset})
	if err != nil {
		t.Fatal(err)
	}
	want := []sla.ReasonDaily{
		{Day: "2026-12-03", Dataset: dataset, Reason: "quality:has_phone", Warned: 1},
		{Day: "2026-12-03", Dataset: dataset, Reason: "quality:id_set", Quarantined: 5},
		{Day: "2026-12-04", Dataset: dataset, Reason: "quality:id_set", Quarantined: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reason rows %+v, want %+v", got, want)
	}
}
