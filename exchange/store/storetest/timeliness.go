package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// RunTimeliness runs the timeliness-store conformance tests.
func RunTimeliness(t *testing.T, h Harness) {
	t.Run("LastAccepted", func(t *testing.T) { testLastAccepted(t, h) })
	t.Run("LastDelivered", func(t *testing.T) { testLastDelivered(t, h) })
	t.Run("SilenceEvents", func(t *testing.T) { testSilenceEvents(t, h) })
	t.Run("Daily", func(t *testing.T) { testDaily(t, h) })
	t.Run("Reasons", func(t *testing.T) { testReasons(t, h) })
	t.Run("Skips", func(t *testing.T) { testSkips(t, h) })
	t.Run("Notices", func(t *testing.T) { testNotices(t, h) })
}

// testLastAccepted: flushes of several processes raise a dataset's time to
// the maximum, never lower it.
func testLastAccepted(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	t1, t2 := baseTime.Add(time.Second), baseTime.Add(2*time.Second+500*time.Microsecond)
	must(t, b.AddTimeliness(ctx, map[string]time.Time{"a.x": t2, "b.y": t1}, nil), "flush 1")
	must(t, b.AddTimeliness(ctx, map[string]time.Time{"a.x": t1}, nil), "flush 2 (older)")
	got, err := b.LastAccepted(ctx)
	must(t, err, "last accepted")
	if len(got) != 2 || !got["a.x"].Equal(t2) || !got["b.y"].Equal(t1) {
		t.Fatalf("last accepted = %v, want a.x %v, b.y %v", got, t2, t1)
	}
}

// testLastDelivered: flushes of several processes raise an agreement's
// last delivery time to the maximum, never lower it, apart from the
// datasets' last accepted times.
func testLastDelivered(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	t1, t2 := baseTime.Add(time.Second), baseTime.Add(2*time.Second+500*time.Microsecond)
	must(t, b.AddDelivered(ctx, nil), "empty flush")
	must(t, b.AddDelivered(ctx, map[string]time.Time{"ag-1": t2, "ag-2": t1}), "flush 1")
	must(t, b.AddDelivered(ctx, map[string]time.Time{"ag-1": t1}), "flush 2 (older)")
	got, err := b.LastDelivered(ctx)
	must(t, err, "last delivered")
	if len(got) != 2 || !got["ag-1"].Equal(t2) || !got["ag-2"].Equal(t1) {
		t.Fatalf("last delivered = %v, want ag-1 %v, ag-2 %v", got, t2, t1)
	}
	accepted, err := b.LastAccepted(ctx)
	must(t, err, "last accepted")
	if len(accepted) != 0 {
		t.Fatalf("last accepted = %v after deliveries only, want none", accepted)
	}
}

// testSilenceEvents: an event opens once (concurrent openers: one wins),
// closes once, and is listed by overlap.
func testSilenceEvents(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	e := sla.Event{Dataset: "a.x", Start: baseTime}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := b.OpenSilence(ctx, e)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d concurrent openers stored the event, want 1", won)
	}
	other := sla.Event{Dataset: "b.y", Agreement: "ag-1", Start: baseTime.Add(time.Hour)}
	ok, err := b.OpenSilence(ctx, other)
	must(t, err, "open other")
	if !ok {
		t.Fatal("a second dataset's event was not stored")
	}
	open, err := b.OpenSilences(ctx)
	must(t, err, "open silences")
	if len(open) != 2 || open[0].Dataset != "a.x" || !open[0].Start.Equal(baseTime) || !open[0].Open() || open[1].Agreement != "ag-1" {
		t.Fatalf("open silences = %+v", open)
	}
	e.End = baseTime.Add(90 * time.Second)
	closed, err := b.CloseSilence(ctx, e)
	must(t, err, "close")
	again, err := b.CloseSilence(ctx, sla.Event{Dataset: "a.x", Start: baseTime, End: baseTime.Add(time.Hour)})
	must(t, err, "close again")
	if !closed || again {
		t.Fatalf("close: %v, close again: %v; want true, false", closed, again)
	}
	all, err := b.Events(ctx, sla.EventQuery{})
	must(t, err, "events")
	if len(all) != 2 || !all[0].End.Equal(e.End) || all[0].Duration(time.Time{}) != 90*time.Second {
		t.Fatalf("events = %+v", all)
	}
	for _, c := range []struct {
		q    sla.EventQuery
		want int
	}{
		{sla.EventQuery{Dataset: "a.x"}, 1},
		{sla.EventQuery{From: baseTime.Add(2 * time.Minute)}, 1}, // a.x ended before
		{sla.EventQuery{To: baseTime.Add(time.Minute)}, 1},       // b.y starts after
		{sla.EventQuery{From: baseTime.Add(time.Minute), To: baseTime.Add(2 * time.Minute)}, 1},
		{sla.EventQuery{Dataset: "b.y", From: baseTime.Add(48 * time.Hour)}, 1}, // still open
		{sla.EventQuery{Dataset: "c.z"}, 0},
	} {
		got, err := b.Events(ctx, c.q)
		must(t, err, "events %+v", c.q)
		if len(got) != c.want {
			t.Errorf("events %+v = %+v, want %d", c.q, got, c.want)
		}
	}
}

// testDaily: flushes add up per (day, dataset, agreement), histograms too.
func testDaily(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	row := func(day, ag string, n int64, lag time.Duration) sla.Daily {
		d := sla.Daily{Day: day, Dataset: "a.x", Agreement: ag, Records: n, OnTime: n - 1, Stale: 1, Quarantined: 2}
		d.Lag.Observe(lag)
		return d
	}
	must(t, b.AddTimeliness(ctx, nil, []sla.Daily{row("2026-11-27", "", 10, time.Second), row("2026-11-27", "ag-1", 5, time.Second)}), "flush 1")
	must(t, b.AddTimeliness(ctx, nil, []sla.Daily{row("2026-11-27", "", 3, time.Minute), row("2026-11-28", "", 4, time.Second)}), "flush 2")
	all, err := b.Daily(ctx, sla.DailyQuery{})
	must(t, err, "daily")
	if len(all) != 3 {
		t.Fatalf("daily = %+v, want 3 rows", all)
	}
	d := all[0]
	if d.Day != "2026-11-27" || d.Agreement != "" || d.Records != 13 || d.OnTime != 11 || d.Stale != 2 || d.Quarantined != 4 || d.Lag.Count() != 2 ||
		d.Lag[sla.LagBucket(time.Second)] != 1 || d.Lag[sla.LagBucket(time.Minute)] != 1 {
		t.Fatalf("first row = %+v", d)
	}
	if all[1].Agreement != "ag-1" || all[1].Records != 5 || all[1].Lag.Count() != 1 {
		t.Fatalf("agreement row = %+v", all[1])
	}
	for _, c := range []struct {
		q    sla.DailyQuery
		want int
	}{
		{sla.DailyQuery{Dataset: "a.x", Agreement: sla.AgreementNone}, 2},
		{sla.DailyQuery{Agreement: "ag-1"}, 1},
		{sla.DailyQuery{From: "2026-11-28"}, 1},
		{sla.DailyQuery{To: "2026-11-27"}, 2},
		{sla.DailyQuery{Dataset: "b.y"}, 0},
	} {
		got, err := b.Daily(ctx, c.q)
		must(t, err, "daily %+v", c.q)
		if len(got) != c.want {
			t.Errorf("daily %+v = %d rows, want %d", c.q, len(got), c.want)
		}
	}
}

// testNotices: notices get increasing ids and are read per agency, after
// an id and since a time.
func testNotices(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	ns := []sla.Notice{
		{Agency: "health", Kind: sla.KindQuarantine, Dataset: "health.x", Reason: "quality:r", Topic: "ingress.health.x", Partition: 1, Offset: 7, SchemaID: 3, At: baseTime},
		{Agency: "tax", Kind: sla.KindSilenceStarted, Dataset: "tax.y", Partition: -1, Offset: -1, At: baseTime.Add(time.Second)},
		{Agency: "health", Kind: sla.KindSilenceEnded, Dataset: "health.x", Partition: -1, Offset: -1, At: baseTime.Add(2 * time.Second)},
	}
	must(t, b.AddNotices(ctx, ns), "add")
	if ns[0].ID == 0 || ns[1].ID <= ns[0].ID || ns[2].ID <= ns[1].ID {
		t.Fatalf("ids %d %d %d, want increasing", ns[0].ID, ns[1].ID, ns[2].ID)
	}
	got, err := b.Notices(ctx, sla.NoticeQuery{Agency: "health"})
	must(t, err, "notices")
	if len(got) != 2 || got[0].ID != ns[0].ID || got[0].Offset != 7 || got[0].Reason != "quality:r" || !got[0].At.Equal(baseTime) {
		t.Fatalf("health notices = %+v", got)
	}
	for _, c := range []struct {
		q    sla.NoticeQuery
		want int
	}{
		{sla.NoticeQuery{Agency: "health", After: ns[0].ID}, 1},
		{sla.NoticeQuery{Agency: "health", Since: baseTime.Add(time.Second)}, 1},
		{sla.NoticeQuery{Agency: "health", Limit: 1}, 1},
		{sla.NoticeQuery{Agency: "statistics"}, 0},
	} {
		got, err := b.Notices(ctx, c.q)
		must(t, err, "notices %+v", c.q)
		if len(got) != c.want {
			t.Errorf("notices %+v = %d, want %d", c.q, len(got), c.want)
		}
	}
}

var _ sla.Store = store.Backend(nil)
