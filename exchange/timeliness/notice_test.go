package timeliness_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/timeliness"
	"github.com/exchange-gov/exchange/policy"
)

// TestQuarantineNoticesHoldNoValue: the aggregator turns quarantined
// records into notices to the owner with reason, position and schema id;
// a freshness detail's event time (a value of the record) is dropped; the
// encoded notice round-trips and never holds the value. A flood beyond the
// limit becomes one summary per reason.
func TestQuarantineNoticesHoldNoValue(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := &sent{}
	agg := timeliness.NewAggregator(db, timeliness.NewNotifier(db, out, nil, nil), func(string) string { return "health" },
		timeliness.AggregatorConfig{NoticesPerMinute: 2})
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	const value = "2026-12-03T09:00:00Z"
	q := exchange.QuarantinedRecord{Topic: "ingress." + dataset, Partition: 2, Offset: 41, SchemaID: 7, Reasons: []policy.Reason{
		{Code: policy.ReasonFreshnessStale, Detail: "event time " + value + " is 1h0m0s old, over max_age 15m0s"},
		{Code: "quality:id_set", Detail: "rule id_set (record.id != \"\") is false"},
	}}
	qs := []exchange.QuarantinedRecord{q, q, q, q, q}
	agg.ObserveActivity(exchange.BatchActivity{At: at, Produced: at, Timeliness: map[string]*exchange.DatasetTimeliness{
		dataset: {Records: 5, Quarantined: 5, Stale: 5, Quarantines: qs}}})
	agg.Flush(ctx, at)
	agg.Flush(ctx, at.Add(time.Minute)) // the window is over: its summaries
	if got := out.kinds(); !equal(got, []string{"quarantine", "quarantine", "quarantine_summary", "quarantine_summary"}) {
		t.Fatalf("notices %v", got)
	}
	n := out.ns[0]
	if n.Agency != "health" || n.Reason != "freshness:stale,quality:id_set" || n.Topic != q.Topic || n.Partition != 2 || n.Offset != 41 || n.SchemaID != 7 {
		t.Fatalf("notice %+v", n)
	}
	if s := out.ns[2]; s.Count != 3 || s.WindowStart == nil || s.Partition != -1 {
		t.Fatalf("summary %+v", s)
	}
	for _, n := range out.ns {
		v, err := sla.EncodeNotice(&n, 99)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(v), value) || strings.Contains(n.Detail, value) {
			t.Fatalf("notice holds the record's event time: %q", n.Detail)
		}
		back, err := sla.DecodeNotice(v)
		if err != nil || back.Kind != n.Kind || back.Offset != n.Offset || back.Detail != n.Detail || !back.At.Equal(n.At) {
			t.Fatalf("round trip %+v, %v; want %+v", back, err, n)
		}
	}
	stored, err := db.Notices(ctx, sla.NoticeQuery{Agency: "health"})
	if err != nil || len(stored) != 4 {
		t.Fatalf("stored notices %d, %v", len(stored), err)
	}
	days, err := db.Daily(ctx, sla.DailyQuery{})
	if err != nil || len(days) != 1 || days[0].Records != 5 || days[0].Quarantined != 5 || days[0].OnTime != 0 || days[0].Stale != 5 {
		t.Fatalf("daily %+v, %v", days, err)
	}
}
