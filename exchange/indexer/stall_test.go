package indexer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// A partition reader that hangs in FetchMessage while its partition holds
// messages (kafka-go readers do, see stallWatch) is replaced after
// StallTimeout; the index completes. Without the watch the first reader of
// the chain's partition would hang until the test's bound.
func TestStalledReaderReplaced(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const n = 1500
		e.publish(entries(source, 0, 0, n), 250)
		stuck := partitionOf(t, e, chainKey(source, 0))
		var mu sync.Mutex
		var hung *kafka.Reader // the first reader of the chain's partition
		hang := func(ctx context.Context, r *kafka.Reader) (kafka.Message, error) {
			mu.Lock()
			if hung == nil && r.Config().Partition == stuck {
				hung = r
			}
			isHung := r == hung
			mu.Unlock()
			if isHung {
				<-ctx.Done() // a reader that stopped fetching without an error
				return kafka.Message{}, ctx.Err()
			}
			return r.FetchMessage(ctx)
		}
		r := e.startWith(nil, Config{StallTimeout: 500 * time.Millisecond}, func(ix *Indexer) { ix.fetchHook = hang })
		e.caughtUp()
		if got := e.verify(); got != n {
			t.Fatalf("index holds %d entries, want %d", got, n)
		}
		if got := testutil.ToFloat64(r.metrics.stalls); got != 1 {
			t.Errorf("reader_stalls_total = %v, want 1 (one hung reader replaced)", got)
		}
	})
}

// A reader waiting at the end of its partition is not stalled: nothing is
// replaced however long it waits.
func TestIdleReaderNotStalled(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.publish(entries(source, 0, 0, 100), 100)
		r := e.startWith(nil, Config{StallTimeout: 200 * time.Millisecond})
		e.caughtUp()
		time.Sleep(time.Second) // five stall timeouts of waiting at the end, not a synchronisation
		if got := testutil.ToFloat64(r.metrics.stalls); got != 0 {
			t.Errorf("reader_stalls_total = %v after idling at the end, want 0", got)
		}
		e.publish(entries(source, 0, 100, 100), 100)
		e.caughtUp()
		if got := e.verify(); got != 200 {
			t.Fatalf("index holds %d entries, want 200", got)
		}
	})
}

func TestWaitingBehind(t *testing.T) {
	for _, c := range []struct {
		next, end int64
		want      bool
	}{
		{kafka.FirstOffset, 0, false}, {kafka.FirstOffset, 3, true},
		{kafka.LastOffset, 9, false}, {5, 5, false}, {5, 6, true}, {0, 0, false},
	} {
		if got := waitingBehind(c.next, c.end); got != c.want {
			t.Errorf("waitingBehind(%d, %d) = %v, want %v", c.next, c.end, got, c.want)
		}
	}
}
