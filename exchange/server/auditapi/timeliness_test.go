package auditapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// seedNow is the handlers' clock in these tests.
var seedNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// seedTimeliness stores two days of aggregates, a closed silence across
// midnight and an open one, and three notices.
func seedTimeliness(ctx context.Context, t *testing.T, db store.Backend) {
	t.Helper()
	ds := "health.immunisations"
	day := sla.Daily{Day: "2026-11-27", Dataset: ds, Records: 10, OnTime: 7, Stale: 1, Quarantined: 2}
	for i := range 19 {
		day.Lag.Observe(time.Duration(i+1) * 100 * time.Millisecond)
	}
	day.Lag.Observe(time.Minute)
	agr := sla.Daily{Day: "2026-11-27", Dataset: ds, Agreement: "hlth-soc-02", Records: 8, OnTime: 7, Stale: 1}
	next := sla.Daily{Day: "2026-11-28", Dataset: ds, Records: 1, OnTime: 1}
	if err := db.AddTimeliness(ctx, nil, []sla.Daily{day, agr, next}); err != nil {
		t.Fatal(err)
	}
	closed := sla.Event{Dataset: ds, Start: time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC)}
	open := sla.Event{Dataset: ds, Start: seedNow.Add(-time.Hour)}
	for _, e := range []sla.Event{closed, open} {
		if _, err := db.OpenSilence(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	closed.End = closed.Start.Add(time.Hour)
	if _, err := db.CloseSilence(ctx, closed); err != nil {
		t.Fatal(err)
	}
	err := db.AddNotices(ctx, []sla.Notice{
		{Agency: "health", Kind: sla.KindQuarantine, Dataset: ds, Reason: "quality:age_in_range", Topic: "ingress." + ds, Offset: 4, At: seedNow},
		{Agency: "health", Kind: sla.KindSilenceStarted, Dataset: ds, Partition: -1, Offset: -1, At: seedNow.Add(time.Second)},
		{Agency: "tax", Kind: sla.KindSilenceStarted, Dataset: "tax.income-assessments", Partition: -1, Offset: -1, At: seedNow},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSLA: the day reports carry the stored counts, the lag percentiles of
// the histogram and the silence minutes of each UTC day (an event across
// midnight split, an open one counted up to now).
func TestSLA(t *testing.T) {
	h := setup(t)
	code, body := get(t, h, "/api/v1/sla?dataset=health.immunisations&agreement=-")
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, body)
	}
	days := body["days"].([]any)
	if len(days) != 2 {
		t.Fatalf("days = %v", days)
	}
	d0, d1 := days[0].(map[string]any), days[1].(map[string]any)
	if d0["records"] != 10.0 || d0["on_time"] != 7.0 || d0["stale"] != 1.0 || d0["quarantined"] != 2.0 || d0["deliveries"] != 20.0 {
		t.Errorf("day 1 counts = %v", d0)
	}
	// 20 lags, 0.1 s … 1.9 s and one minute: p50 ≈ 1 s, p95 (19th) ≈ 1.9 s, within ±19 %.
	if p := d0["lag_p50_seconds"].(float64); p < 0.81 || p > 1.19 {
		t.Errorf("p50 = %v, want 1 s ±19 %%", p)
	}
	if p := d0["lag_p95_seconds"].(float64); p < 1.9/1.19 || p > 1.9*1.19 {
		t.Errorf("p95 = %v, want 1.9 s ±19 %%", p)
	}
	if d0["silence_minutes"] != 30.0 || d1["silence_minutes"] != 90.0 {
		t.Errorf("silence minutes = %v, %v; want 30 (23:30-24:00), 90 (00:00-00:30 and 11:00-12:00)", d0["silence_minutes"], d1["silence_minutes"])
	}
	if _, ok := d1["lag_p50_seconds"]; ok {
		t.Errorf("a day without deliveries has a lag percentile: %v", d1)
	}
	_, body = get(t, h, "/api/v1/sla?agreement=hlth-soc-02&from=2026-11-27&to=2026-11-27")
	if days := body["days"].([]any); len(days) != 1 || days[0].(map[string]any)["on_time"] != 7.0 {
		t.Errorf("agreement days = %v", days)
	}
	if code, body := get(t, h, "/api/v1/sla?limit=3"); code != http.StatusBadRequest || !strings.Contains(body["error"].(string), "limit") {
		t.Errorf("unknown parameter: %d %v", code, body)
	}
}

// TestSLAEventsAndNotices: events overlap the interval asked; notices are
// one agency's, paged.
func TestSLAEventsAndNotices(t *testing.T) {
	h := setup(t)
	_, body := get(t, h, "/api/v1/sla/events?from=2026-11-28T01:00:00Z")
	evs := body["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["end"] != nil || evs[0].(map[string]any)["duration_seconds"] != 3600.0 {
		t.Fatalf("open events = %v", evs)
	}
	_, body = get(t, h, "/api/v1/notices?agency=health&limit=1")
	ns := body["notices"].([]any)
	if len(ns) != 1 || ns[0].(map[string]any)["reason"] != "quality:age_in_range" {
		t.Fatalf("page 1 = %v", body)
	}
	next := body["next"].(float64)
	_, body = get(t, h, "/api/v1/notices?agency=health&after="+strconv.FormatInt(int64(next), 10))
	if ns := body["notices"].([]any); len(ns) != 1 || ns[0].(map[string]any)["kind"] != "silence_started" || body["next"] != nil {
		t.Fatalf("page 2 = %v", body)
	}
	_, body = get(t, h, "/api/v1/notices?agency=health&since=2026-11-28T12:00:01Z")
	if ns := body["notices"].([]any); len(ns) != 1 {
		t.Fatalf("since = %v", body)
	}
}
