package timeliness_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/exchange/timeliness"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

const dataset = "health.doses"

// planWith compiles a one-dataset plan whose contract expects a record
// every `every`.
func planWith(t *testing.T, every time.Duration) *policy.Holder {
	t.Helper()
	s := avro.MustParse(`{"type":"record","name":"Dose","fields":[{"name":"id","type":"string"}]}`)
	subject := names.IngressSubject(dataset)
	p, err := policy.Compile(policy.Input{
		Version: "v1", PseudonymKey: func(string) []byte { return []byte("k") },
		Schemas: []schemas.SchemaVersion{{ID: 1, Subject: subject, Version: 1, Avro: s}},
		Contracts: []agreements.DataContract{{Dataset: dataset, Owner: "health", Subject: subject,
			Fields:    []agreements.FieldClass{{Name: "id", Class: agreements.Internal}},
			Freshness: &agreements.Freshness{ExpectedEvery: calendar.Wall(every)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var h policy.Holder
	h.Store(p)
	return &h
}

// sent collects the notices a Notifier produced.
type sent struct {
	mu sync.Mutex
	ns []sla.Notice
}

func (s *sent) Produce(_ context.Context, ns []sla.Notice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ns = append(s.ns, ns...)
	return nil
}

func (s *sent) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.ns {
		out = append(out, n.Kind)
	}
	return out
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestSilenceAcrossProcessesAndRestart: two processes (an aggregator and a
// monitor each) share one store. Records accepted by either keep the
// dataset from being silent; once both stop, the silence opens once (one
// notice) and the gauge is 1 in both; a record through the second
// process closes it once; a monitor started afresh (a restart) finds an
// open silence in the store and closes it.
func TestSilenceAcrossProcessesAndRestart(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plans := planWith(t, 3*time.Second)
	out := &sent{}
	c := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	owners := func(string) string { return "health" }
	type proc struct {
		agg *timeliness.Aggregator
		mon *timeliness.Monitor
		m   *timeliness.Metrics
	}
	start := func() proc {
		m := timeliness.NewMetrics(nil)
		n := timeliness.NewNotifier(db, out, m, nil)
		return proc{timeliness.NewAggregator(db, n, owners, timeliness.AggregatorConfig{Metrics: m}),
			timeliness.NewMonitor(db, plans, n, timeliness.MonitorConfig{Now: c.now, Metrics: m}), m}
	}
	a, b := start(), start()
	accept := func(p proc, at time.Time) {
		p.agg.ObserveActivity(exchange.BatchActivity{At: at, Produced: at,
			Timeliness: map[string]*exchange.DatasetTimeliness{dataset: {Records: 1}}})
		p.agg.Flush(ctx, at)
	}
	check := func(step string, want ...string) {
		t.Helper()
		for _, p := range []proc{a, b} {
			if err := p.mon.Check(ctx); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		if got := out.kinds(); !equal(got, want) {
			t.Fatalf("%s: notices %v, want %v", step, got, want)
		}
	}
	t0 := c.now()
	accept(a, t0)
	c.set(t0.Add(2 * time.Second))
	accept(b, c.now()) // the other process's partitions are busy
	c.set(t0.Add(4 * time.Second))
	check("4 s after a's last record, 2 s after b's")
	if v := timeliness.Gauge(t, a.m, "exchange_dataset_silent"); v != 0 {
		t.Fatalf("silent gauge %v while b's records flow", v)
	}
	c.set(t0.Add(5*time.Second + time.Millisecond))
	check("3 s after the last record", sla.KindSilenceStarted)
	check("checked again", sla.KindSilenceStarted)
	for _, p := range []proc{a, b} {
		if v := timeliness.Gauge(t, p.m, "exchange_dataset_silent"); v != 1 {
			t.Fatalf("silent gauge %v, want 1 in every process", v)
		}
	}
	c.set(t0.Add(9 * time.Second))
	accept(b, c.now())
	check("a record through b", sla.KindSilenceStarted, sla.KindSilenceEnded)
	if v := timeliness.Gauge(t, a.m, "exchange_dataset_silent"); v != 0 {
		t.Fatalf("silent gauge %v after the record", v)
	}
	evs, err := db.Events(ctx, sla.EventQuery{Dataset: dataset})
	if err != nil || len(evs) != 1 || evs[0].Duration(time.Time{}) != 4*time.Second {
		t.Fatalf("events %+v, %v; want one of 4 s (5 s to 9 s)", evs, err)
	}

	// Silent again, then both processes restart: the new ones take the
	// silence from the store and end it once.
	c.set(t0.Add(13 * time.Second))
	check("silent again", sla.KindSilenceStarted, sla.KindSilenceEnded, sla.KindSilenceStarted)
	a, b = start(), start()
	check("after a restart", sla.KindSilenceStarted, sla.KindSilenceEnded, sla.KindSilenceStarted)
	if v := timeliness.Gauge(t, b.m, "exchange_dataset_silent"); v != 1 {
		t.Fatalf("silent gauge %v after a restart, want 1", v)
	}
	accept(a, c.now())
	check("a record after the restart", sla.KindSilenceStarted, sla.KindSilenceEnded, sla.KindSilenceStarted, sla.KindSilenceEnded)
	for _, n := range out.ns {
		if n.Agency != "health" || n.Dataset != dataset || n.WindowStart == nil {
			t.Errorf("notice %+v", n)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// closed is a calendar without active time before the far future: the
// office is closed now.
type closed struct{}

func (closed) Deadline(from time.Time, d time.Duration) time.Time {
	return from.Add(1000 * time.Hour).Add(d)
}
func (closed) Active(a, b time.Time) time.Duration { return 0 }

// TestSilenceInClosedHoursRaisesNothing: measured in a calendar whose
// working hours exclude now, a long wall-time silence is no silence.
func TestSilenceInClosedHoursRaisesNothing(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := &sent{}
	c := &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	m := timeliness.NewMetrics(nil)
	mon := timeliness.NewMonitor(db, planWith(t, 3*time.Second), timeliness.NewNotifier(db, out, m, nil), timeliness.MonitorConfig{
		Now: c.now, Metrics: m,
		SilenceSLA: func(plan *policy.Plan, ds string) (time.Duration, sla.Calendar, bool) {
			every, _, ok := timeliness.DefaultSilenceSLA(plan, ds)
			return every, closed{}, ok
		},
	})
	if err := db.AddTimeliness(ctx, map[string]time.Time{dataset: c.now()}, nil); err != nil {
		t.Fatal(err)
	}
	c.set(c.now().Add(48 * time.Hour))
	if err := mon.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := out.kinds(); len(got) != 0 || timeliness.Gauge(t, m, "exchange_dataset_silent") != 0 {
		t.Fatalf("notices %v, gauge %v: a silence outside working hours", got, timeliness.Gauge(t, m, "exchange_dataset_silent"))
	}
}
