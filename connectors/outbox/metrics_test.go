package outbox

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/exchange-gov/exchange/schemas"
)

// TestOutboxRegistryDownHoldsRows: while the registry cannot serve the
// schema, rows are not published, not dead-lettered and not deleted (the
// failure is counted, the lag shows); once it can, they all go out, and the
// metrics count what was published and dead-lettered.
func TestOutboxRegistryDownHoldsRows(t *testing.T) {
	w := newWorld(t)
	for k := 0; k < 5; k++ {
		w.insert(k, 0, 1)
	}
	w.exec(`INSERT INTO exchange_outbox (dataset, payload) VALUES ($1, '{"record_id":"bad","seq":"x"}')`, testDataset)

	var down atomic.Bool
	down.Store(true)
	var failedCalls atomic.Int64
	reg := prometheus.NewRegistry()
	c, err := New(w.config(ModePoll), w.clients(testAgency), nil, WithRegisterer(reg),
		WithGetenv(func(string) string { return w.dbURL }),
		WithSchemaSource(func(context.Context, string) (*schemas.SchemaVersion, error) {
			if down.Load() {
				failedCalls.Add(1)
				return nil, errors.New("registry unavailable")
			}
			return w.schema, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()

	waitFor(t, "two failed schema fetches", func() bool { return failedCalls.Load() >= 2 })
	if n := w.count("exchange_outbox"); n != 6 {
		t.Fatalf("registry down: %d rows left in the outbox, want all 6 held", n)
	}
	if n := w.count("exchange_outbox_dead"); n != 0 {
		t.Fatalf("registry down: %d dead letters, want none (not the rows' fault)", n)
	}
	if got := testutil.ToFloat64(c.m.failures.WithLabelValues(stageSchema)); got < 1 {
		t.Fatalf("failures{stage=schema} = %v, want >= 1", got)
	}
	if got := testutil.ToFloat64(c.m.lag); got <= 0 {
		t.Fatalf("lag_seconds = %v while rows wait, want > 0", got)
	}
	down.Store(false)
	waitFor(t, "the outbox to empty", func() bool { return w.count("exchange_outbox") == 0 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := testutil.ToFloat64(c.m.lag); got != 0 {
		t.Errorf("lag_seconds = %v caught up, want 0", got)
	}
	if got := testutil.ToFloat64(c.m.published.WithLabelValues(testDataset)); got != 5 {
		t.Errorf("rows_published_total = %v, want 5", got)
	}
	if got := testutil.ToFloat64(c.m.dead.WithLabelValues(testDataset)); got != 1 {
		t.Errorf("rows_dead_lettered_total = %v, want 1", got)
	}
	if n := w.count("exchange_outbox_dead"); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	if n := w.topicEnd(); n != 5 {
		t.Errorf("%d records on %s, want the 5 good rows once each", n, w.topic)
	}
}

// waitFor polls cond until it holds; a generous deadline fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := testCtx(t)
	for !cond() {
		if !sleep(ctx, 20*time.Millisecond) {
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}
