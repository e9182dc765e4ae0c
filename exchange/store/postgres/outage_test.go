package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for the condition itself
	}
}

// TestAppendAcrossServerCrash stops PostgreSQL (immediate, like a crash)
// while a writer appends, as the runtime does: every failure while it is down
// is ErrUnavailable, the writer retries the same batch with backoff, and
// after the restart the chain holds exactly one entry per offset, every
// acknowledged batch included, and verifies.
func TestAppendAcrossServerCrash(t *testing.T) {
	storetest.PostgresURL(t) // PostgreSQL tests run only where a server is expected
	srv := storetest.StartPostgres(t)
	url := storetest.CreateDatabase(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, url+"&connect_timeout=2", store.WithSigningKey(storetest.TestKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const topic, batches, size = "ingress.health.immunisations", 60, 100
	var acked, unavailable atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := int64(0); i < batches; i++ {
			batch := storetest.Entries(topic, 0, i*size, (i+1)*size)
			for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 500*time.Millisecond) {
				actx, acancel := context.WithTimeout(ctx, 5*time.Second)
				err := db.Append(actx, batch)
				acancel()
				if err == nil {
					break
				}
				if !errors.Is(err, ledger.ErrUnavailable) {
					done <- err
					return
				}
				unavailable.Add(1)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					done <- ctx.Err()
					return
				}
			}
			acked.Add(1)
		}
		done <- nil
	}()
	waitFor(t, "10 acknowledged batches", time.Minute, func() bool { return acked.Load() >= 10 })
	srv.Stop()
	waitFor(t, "the writer to see the outage", time.Minute, func() bool { return unavailable.Load() >= 3 })
	ackedWhileDown := acked.Load()
	srv.Start()
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	// The runtime re-processes what it had not committed: re-appending is a no-op.
	for i := int64(0); i < batches; i += 7 {
		if err := db.Append(ctx, storetest.Entries(topic, 0, i*size, (i+1)*size)); err != nil {
			t.Fatal(err)
		}
	}
	got := storetest.ReadChain(t, db, topic, 0)
	if len(got) != batches*size {
		t.Fatalf("%d entries, want %d", len(got), batches*size)
	}
	for i, e := range got {
		if e.Offset != int64(i) || e.Seq != int64(i+1) {
			t.Fatalf("entry %d: offset %d seq %d", i, e.Offset, e.Seq)
		}
	}
	rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	t.Logf("%d batches acknowledged before the crash, %d ErrUnavailable retries, %d entries, %d checkpoints, chain intact",
		ackedWhileDown, unavailable.Load(), rep.Entries, rep.Checkpoints)
}
