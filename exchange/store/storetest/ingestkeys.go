package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/store"
)

// RunIngestKeys checks HTTP ingest's idempotency keys: the first claim
// wins, a second sees the claim and then its answer, keys are per
// principal, a released or expired key or a claim whose lock ran out may
// be claimed again, purging deletes only expired keys, and of concurrent
// claims exactly one wins.
func RunIngestKeys(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	now := baseTime
	key := func(principal, k string, hash string) store.IngestKey {
		return store.IngestKey{Principal: principal, Key: k, RequestHash: []byte(hash), Created: now,
			Expires: now.Add(24 * time.Hour), LockedUntil: now.Add(time.Minute)}
	}
	claim := func(k store.IngestKey, at time.Time) (store.IngestKey, bool) {
		t.Helper()
		prior, ok, err := b.ClaimIngestKey(ctx, k, at)
		if err != nil {
			t.Fatal(err)
		}
		return prior, ok
	}
	if _, ok := claim(key("health", "k1", "h1"), now); !ok {
		t.Fatal("the first claim of k1 was refused")
	}
	if prior, ok := claim(key("health", "k1", "h2"), now); ok || prior.Status != 0 || !bytes.Equal(prior.RequestHash, []byte("h1")) {
		t.Fatalf("a second claim of k1 in progress: claimed %v, prior %+v; want the first's in-progress entry", ok, prior)
	}
	if _, ok := claim(key("tax", "k1", "h1"), now); !ok {
		t.Fatal("another principal's k1 was refused: keys are per principal")
	}
	if err := b.AnswerIngestKey(ctx, "health", "k1", 200, []byte(`{"accepted":1}`)); err != nil {
		t.Fatal(err)
	}
	if prior, ok := claim(key("health", "k1", "h1"), now.Add(time.Hour)); ok || prior.Status != 200 || string(prior.Body) != `{"accepted":1}` {
		t.Fatalf("a retry of the answered k1: claimed %v, prior %+v; want the answer", ok, prior)
	}
	if _, ok := claim(key("health", "k1", "h1"), now.Add(25*time.Hour)); !ok {
		t.Fatal("k1 after its expiry was refused")
	}

	claim(key("health", "k2", "h"), now)
	if err := b.ReleaseIngestKey(ctx, "health", "k2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(key("health", "k2", "h"), now); !ok {
		t.Fatal("a released key was refused")
	}
	if _, ok := claim(key("health", "k2", "h"), now.Add(2*time.Minute)); !ok {
		t.Fatal("an unanswered claim whose lock ran out was refused")
	}

	n, err := b.PurgeIngestKeys(ctx, now)
	if err != nil || n != 0 {
		t.Fatalf("purge at now: %d, %v; want nothing expired", n, err)
	}
	if n, err := b.PurgeIngestKeys(ctx, now.Add(48*time.Hour)); err != nil || n != 3 {
		t.Fatalf("purge two days later: %d, %v; want all 3 keys", n, err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := b.ClaimIngestKey(ctx, key("health", "race", "h"), now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("8 concurrent claims of one key: %d won, want exactly 1", wins)
	}
}
