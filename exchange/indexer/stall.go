package indexer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// stallWatch watches one partition reader: kafka-go readers are known to
// stop fetching without an error (after a broker restart, a leader move, or
// on Rebalance In Progress loops; kafka-go #387, #955, #1150). A reader
// that has waited in FetchMessage for StallTimeout while the partition's end
// offset is past the offset it waits for is given up on: its context is
// cancelled and readPartition replaces it with a new one at that offset.
// Waiting while the index write is slow is not a stall: the reader is then
// blocked handing over what it fetched, not fetching.
type stallWatch struct {
	since  atomic.Int64 // when the current FetchMessage began (unix ns); 0 outside one
	next   atomic.Int64 // the offset that FetchMessage waits for
	cancel context.CancelFunc
	done   chan struct{}
}

// watchStall returns the context a reader of topic/partition fetches with
// and the watch that cancels it on a stall; stop the watch when done.
func (ix *Indexer) watchStall(gctx context.Context, topic string, partition int) (context.Context, *stallWatch) {
	rctx, cancel := context.WithCancel(gctx)
	w := &stallWatch{cancel: cancel, done: make(chan struct{})}
	if ix.cfg.StallTimeout <= 0 {
		close(w.done)
		return rctx, w
	}
	go w.run(rctx, ix, topic, partition)
	return rctx, w
}

func (w *stallWatch) fetching(next int64) {
	w.next.Store(next)
	w.since.Store(time.Now().UnixNano())
}

func (w *stallWatch) fetched() { w.since.Store(0) }

func (w *stallWatch) stop() {
	w.cancel()
	<-w.done
}

func (w *stallWatch) run(ctx context.Context, ix *Indexer, topic string, partition int) {
	defer close(w.done)
	limit := ix.cfg.StallTimeout
	tick := time.NewTicker(max(limit/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		since := w.since.Load()
		if since == 0 || time.Since(time.Unix(0, since)) < limit {
			continue
		}
		next := w.next.Load()
		end, err := ix.endOffset(ctx, topic, partition)
		if err != nil || !waitingBehind(next, end) || w.since.Load() != since {
			continue // unknown, nothing there to fetch, or it fetched meanwhile
		}
		ix.log.Warn("audit reader stalled: no message fetched while the partition holds more; replacing the reader",
			"topic", topic, "partition", partition, "waiting_for", next, "end_offset", end, "waited", time.Since(time.Unix(0, since)).Round(time.Second))
		ix.metrics.stalls.Inc()
		w.cancel()
		return
	}
}

// waitingBehind reports whether a reader waiting for offset next (or for
// kafka-go's FirstOffset sentinel) has messages to fetch below end.
func waitingBehind(next, end int64) bool {
	switch {
	case next == kafka.FirstOffset:
		return end > 0 // the audit topic is never truncated: it starts at 0
	case next < 0:
		return false // LastOffset: waits for what comes next
	default:
		return end > next
	}
}

// endOffset is the end offset (the next offset to be written) of
// topic/partition.
func (ix *Indexer) endOffset(ctx context.Context, topic string, partition int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := ix.clients.EndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	end, ok := ends[partition]
	if !ok {
		return 0, fmt.Errorf("end offset of %s/%d: no such partition", topic, partition)
	}
	return end, nil
}

// fetchMessage fetches the next message of r (the fetch hook of tests
// stands in for it).
func (ix *Indexer) fetchMessage(ctx context.Context, r *kafka.Reader) (kafka.Message, error) {
	if ix.fetchHook != nil {
		return ix.fetchHook(ctx, r)
	}
	return r.FetchMessage(ctx)
}
