package bench

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// indexWatch follows the store's ledger until it holds an entry at every
// published position of the run: with the audit written to Kafka and
// indexed asynchronously, that moment comes after the exchange committed
// its last offset (with a synchronous ledger write it is the same moment).
// Each partition keeps a cursor: the first position not yet seen, every
// position below it having an entry. Positions are read once, as they
// appear, so a run with gaps (entries indexed out of order) is waited for
// rather than counted by its highest offset alone.
type indexWatch struct {
	lg                 ledger.PositionReader
	topic              string
	cursor, start, end map[int]int64
	parts              []int
}

func newIndexWatch(lg ledger.PositionReader, topic string, starts, ends map[int]int64) *indexWatch {
	w := &indexWatch{lg: lg, topic: topic, cursor: map[int]int64{}, start: starts, end: map[int]int64{}}
	for p, e := range ends {
		w.parts = append(w.parts, p)
		w.cursor[p], w.end[p] = starts[p], e
	}
	sort.Ints(w.parts)
	return w
}

// wait polls until every position is indexed and returns that moment and
// how many positions were found (the published count), or ctx's error with
// the first partition still behind.
func (w *indexWatch) wait(ctx context.Context) (time.Time, int64, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		behind, err := w.advance(ctx)
		if err != nil && ctx.Err() == nil {
			return time.Time{}, 0, err
		}
		if err == nil && behind < 0 {
			return time.Now(), w.found(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0, w.notCaughtUp(ctx.Err())
		case <-tick.C:
		}
	}
}

// notCaughtUp names the first partition still behind.
func (w *indexWatch) notCaughtUp(cause error) error {
	for _, p := range w.parts {
		if w.cursor[p] < w.end[p] {
			return fmt.Errorf("ledger index not caught up: %s/%d has every entry below offset %d of %d: %w", w.topic, p, w.cursor[p], w.end[p], cause)
		}
	}
	return fmt.Errorf("ledger index: %w", cause)
}

// advance moves every cursor as far as the ledger allows and returns the
// first partition still behind, -1 when none is.
func (w *indexWatch) advance(ctx context.Context) (int, error) {
	behind := -1
	for _, p := range w.parts {
		if w.cursor[p] >= w.end[p] {
			continue
		}
		c := ledger.Chain{Topic: w.topic, Partition: int32(p)}
		high, err := w.lg.HighestOffset(ctx, c)
		if err != nil {
			return 0, fmt.Errorf("reading the ledger's highest offset of %s: %w", c, err)
		}
		for w.cursor[p] <= high && w.cursor[p] < w.end[p] {
			to := min(high, w.end[p]-1, w.cursor[p]+ledger.MaxPositionRange-1)
			hashes, err := w.lg.PayloadHashes(ctx, c, w.cursor[p], to)
			if err != nil {
				return 0, fmt.Errorf("reading the ledger's positions of %s: %w", c, err)
			}
			from := w.cursor[p]
			for w.cursor[p] <= to {
				if _, ok := hashes[w.cursor[p]]; !ok {
					break
				}
				w.cursor[p]++
			}
			if w.cursor[p] <= to || w.cursor[p] == from {
				break // a gap: an entry below the highest is not indexed yet
			}
		}
		if w.cursor[p] < w.end[p] && behind < 0 {
			behind = p
		}
	}
	return behind, nil
}

// found is how many positions have an entry (all of them once caught up).
func (w *indexWatch) found() int64 {
	var n int64
	for _, p := range w.parts {
		n += w.cursor[p] - w.start[p]
	}
	return n
}
