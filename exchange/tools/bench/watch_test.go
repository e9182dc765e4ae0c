package bench

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite" // registers sqlite:// URLs
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
)

// TestIndexWatchWaitsForGaps: the index counts as caught up only when every
// published position has an entry, not when the highest offset is reached
// (an asynchronous indexer may store a later entry before an earlier one),
// and it counts exactly the run's positions.
func TestIndexWatchWaitsForGaps(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "bench.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	topic := names.Ingress(Dataset)
	appendAt := func(p int32, offsets ...int64) {
		t.Helper()
		var es []ledger.Entry
		for _, o := range offsets {
			h := sha256.Sum256([]byte{byte(p), byte(o)})
			es = append(es, ledger.Entry{Topic: topic, Partition: p, Offset: o, Dataset: Dataset, PayloadHash: h[:], Decision: ledger.Dropped, DecisionTime: time.Now().UTC()})
		}
		if err := db.Append(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	appendAt(0, 0, 1) // an earlier run's entries: not this run's
	appendAt(0, 2, 3, 4, 6, 7, 8)
	appendAt(1, 0, 1, 2, 3, 4, 5, 6)
	w := newIndexWatch(db, topic, map[int]int64{0: 2, 1: 0}, map[int]int64{0: 9, 1: 7})
	behind, err := w.advance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if behind != 0 || w.cursor[0] != 5 || w.found() != 3+7 {
		t.Fatalf("with offset 5 missing: behind %d, cursor %d, found %d; want partition 0 behind at 5, 10 found", behind, w.cursor[0], w.found())
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = w.wait(tctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), topic+"/0") || !strings.Contains(err.Error(), "offset 5 of 9") {
		t.Fatalf("waiting with a gap: %v; want an error naming %s/0 and offset 5", err, topic)
	}
	appendAt(0, 5)
	_, found, err := w.wait(ctx)
	if err != nil || found != 7+7 {
		t.Fatalf("after the gap filled: found %d, %v; want the 14 positions of the run", found, err)
	}
}

// TestWaitLeaders: topics with answering leaders pass; a topic that never
// gets one fails when the bound ends, naming the topic.
func TestWaitLeaders(t *testing.T) {
	ctx := context.Background()
	b, err := devbroker.Start("127.0.0.1:0", devbroker.DefaultPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{b.Addr()}}, kafkaclient.AdminTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topics := []string{"bench.leaders-a", "bench.leaders-b"}
	if err := exchange.EnsureTopics(ctx, kc, topics, 3, 0); err != nil {
		t.Fatal(err)
	}
	counts, err := waitLeaders(ctx, kc.Admin(), topics)
	if err != nil || counts[topics[0]] != 3 || counts[topics[1]] != 3 {
		t.Fatalf("created topics: %v, partitions %v; want 3 each", err, counts)
	}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = waitLeaders(tctx, kc.Admin(), append(topics, "bench.never-created"))
	if err == nil || !strings.Contains(err.Error(), "bench.never-created") {
		t.Fatalf("a topic that was never created: %v; want an error naming it", err)
	}
}
