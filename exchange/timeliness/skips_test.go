package timeliness_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/timeliness"
	"github.com/exchange-gov/exchange/policy"
)

// TestAggregatorCountsEverySkip: the batches' skips of every reason —
// revoked and filter as well as stale — reach the store's daily skip rows
// per dataset, agreement and reason at the flush, added across batches and
// split by day; the stale skips still reach the agreement's Daily row.
func TestAggregatorCountsEverySkip(t *testing.T) {
	ctx := context.Background()
	db, agg := sqliteAggregator(t)
	day1 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	revoked := exchange.SkipLabel{Dataset: dataset, Agreement: "ag-revoked", Reason: policy.SkipRevoked}
	filter := exchange.SkipLabel{Dataset: dataset, Agreement: "ag-open", Reason: policy.SkipFilter}
	stale := exchange.SkipLabel{Dataset: dataset, Agreement: "ag-open", Reason: policy.SkipStale}
	agg.ObserveActivity(exchange.BatchActivity{At: day1, Skipped: map[exchange.SkipLabel]int{revoked: 4, filter: 1, stale: 2},
		Timeliness: map[string]*exchange.DatasetTimeliness{dataset: {Records: 5,
			Agreements: map[string]*exchange.AgreementTimeliness{"ag-open": {Delivered: 2, Stale: 2}}}}})
	agg.ObserveActivity(exchange.BatchActivity{At: day1, Skipped: map[exchange.SkipLabel]int{revoked: 3}})
	agg.Flush(ctx, day1)
	agg.ObserveActivity(exchange.BatchActivity{At: day2, Skipped: map[exchange.SkipLabel]int{revoked: 1}})
	agg.Flush(ctx, day2)
	got, err := db.Skips(ctx, sla.DailyQuery{Dataset: dataset})
	if err != nil {
		t.Fatal(err)
	}
	want := []sla.SkipDaily{
		{Day: "2026-12-03", Dataset: dataset, Agreement: "ag-open", Reason: policy.SkipFilter, Skipped: 1},
		{Day: "2026-12-03", Dataset: dataset, Agreement: "ag-open", Reason: policy.SkipStale, Skipped: 2},
		{Day: "2026-12-03", Dataset: dataset, Agreement: "ag-revoked", Reason: policy.SkipRevoked, Skipped: 7},
		{Day: "2026-12-04", Dataset: dataset, Agreement: "ag-revoked", Reason: policy.SkipRevoked, Skipped: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("skip rows %+v, want %+v", got, want)
	}
	daily, err := db.Daily(ctx, sla.DailyQuery{Dataset: dataset, Agreement: "ag-open"})
	if err != nil {
		t.Fatal(err)
	}
	if len(daily) != 1 || daily[0].Stale != 2 {
		t.Fatalf("ag-open's daily rows %+v, want one with 2 stale", daily)
	}
}

// sqliteAggregator is an aggregator (default configuration, datasets owned
// by health) over a fresh SQLite store, closed when the test ends.
func sqliteAggregator(t *testing.T) (store.Backend, *timeliness.Aggregator) {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	agg := timeliness.NewAggregator(db, timeliness.NewNotifier(db, &sent{}, nil, nil), func(string) string { return "health" },
		timeliness.AggregatorConfig{})
	return db, agg
}
