package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// Lag is how far the index is behind the audit topic.
type Lag struct {
	Messages int64 // audit messages not yet indexed (committed) by the indexer group
	// Behind is the age of the oldest audit message not yet indexed: now
	// minus the time the topic's end offset was first seen past the
	// group's committed offset (0 when caught up). Its resolution is the
	// poll interval; after a long lag it is a lower bound (the history is
	// bounded).
	Behind time.Duration
	Known  bool      // false when the last poll failed
	At     time.Time // of the last poll
}

// LagWatch polls the audit topic's end offsets and the indexer group's
// committed offsets. Safe for concurrent use.
type LagWatch struct {
	clients  *kafkaclient.Clients
	group    string // the indexer's group
	topic    string // the audit topic
	interval time.Duration
	maxHist  int
	log      *slog.Logger
	metrics  *Metrics
	now      func() time.Time

	mu      sync.Mutex
	lag     Lag
	history []endSample // oldest first; a sample only when an end offset moved
	lastErr time.Time   // last error logged (rate limit)
}

type endSample struct {
	at   time.Time
	ends map[int]int64
}

// LagOption configures a LagWatch.
type LagOption func(*LagWatch)

// LagInterval sets the poll interval. Default 1s.
func LagInterval(d time.Duration) LagOption {
	return func(w *LagWatch) {
		if d > 0 {
			w.interval = d
		}
	}
}

// LagLogger sets the logger. Default slog.Default().
func LagLogger(l *slog.Logger) LagOption {
	return func(w *LagWatch) {
		if l != nil {
			w.log = l
		}
	}
}

// LagMetrics sets the metrics the lag gauges are part of. Default:
// registered nowhere.
func LagMetrics(m *Metrics) LagOption {
	return func(w *LagWatch) {
		if m != nil {
			w.metrics = m
		}
	}
}

// NewLagWatch watches the lag of the indexer of the exchange whose workers
// share group (the indexer's group is names.IndexerGroup(group)). Offsets
// are asked through clients' admin Client, whose metadata cache learns of
// a topic created elsewhere within its TTL: until then the topic counts as
// missing (lag 0).
func NewLagWatch(clients *kafkaclient.Clients, group string, opts ...LagOption) *LagWatch {
	if group == "" {
		group = names.DefaultGroup
	}
	w := &LagWatch{
		clients: clients, group: names.IndexerGroup(group), topic: names.Audit(group), interval: time.Second, maxHist: 1000,
		log: slog.Default(), now: time.Now,
	}
	for _, o := range opts {
		o(w)
	}
	if w.metrics == nil {
		w.metrics = NewMetrics(nil)
	}
	return w
}

// Lag is the lag as of the last poll (Known false before the first).
func (w *LagWatch) Lag() Lag {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lag
}

// Run polls every interval until ctx ends, then returns nil.
func (w *LagWatch) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.Poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll measures the lag once.
func (w *LagWatch) Poll(ctx context.Context) {
	ends, err := w.endOffsets(ctx)
	var committed map[int]int64
	if err == nil && ends != nil {
		committed, err = w.committed(ctx, ends)
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.lag = Lag{Known: false, At: now}
		if now.Sub(w.lastErr) >= time.Minute {
			w.lastErr = now
			w.log.Warn("measuring the audit index lag failed", "err", err)
		}
		return
	}
	w.addSample(now, ends)
	w.lag = lagOf(now, ends, committed, w.history)
	w.metrics.lagMsgs.Set(float64(w.lag.Messages))
	w.metrics.lagSecs.Set(w.lag.Behind.Seconds())
}

// addSample keeps ends when an end offset moved since the last sample: the
// time an offset was first passed is all Behind needs.
func (w *LagWatch) addSample(now time.Time, ends map[int]int64) {
	if n := len(w.history); n > 0 && sameOffsets(w.history[n-1].ends, ends) {
		return
	}
	w.history = append(w.history, endSample{at: now, ends: ends})
	if len(w.history) > w.maxHist {
		w.history = append(w.history[:0], w.history[len(w.history)-w.maxHist:]...)
	}
}

func sameOffsets(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, o := range a {
		if bo, ok := b[p]; !ok || bo != o {
			return false
		}
	}
	return true
}

// lagOf computes the lag from the end offsets, the committed offsets (-1 or
// missing: none) and the end offset history (oldest first).
func lagOf(now time.Time, ends, committed map[int]int64, history []endSample) Lag {
	lag := Lag{Known: true, At: now}
	var oldest time.Time
	for p, end := range ends {
		c := max(committed[p], 0)
		if end <= c {
			continue
		}
		lag.Messages += end - c
		// The first sample past c (the current one is in history); when
		// the history was trimmed, the oldest one left (a lower bound).
		for _, s := range history {
			if s.ends[p] > c {
				if oldest.IsZero() || s.at.Before(oldest) {
					oldest = s.at
				}
				break
			}
		}
	}
	if lag.Messages > 0 && !oldest.IsZero() {
		lag.Behind = now.Sub(oldest)
	}
	return lag
}

// WaitCaughtUp takes the audit topic's end offsets now and returns once the
// indexer group's committed offsets reach them (everything written before
// the call is indexed), or ctx's error.
func (w *LagWatch) WaitCaughtUp(ctx context.Context) error {
	ends, err := w.endOffsets(ctx)
	if err != nil {
		return fmt.Errorf("waiting for the audit index: %w", err)
	}
	for {
		if ends == nil {
			return nil // no audit topic: nothing to index
		}
		committed, err := w.committed(ctx, ends)
		if err == nil && caughtUp(ends, committed) {
			return nil
		}
		if err != nil {
			w.log.Debug("reading the audit indexer's offsets failed; retrying", "err", err)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return fmt.Errorf("waiting for the audit index: %w", ctx.Err())
		}
	}
}

func caughtUp(ends, committed map[int]int64) bool {
	for p, end := range ends {
		if end > 0 && committed[p] < end {
			return false
		}
	}
	return true
}

// endOffsets are the audit topic's end offsets by partition; nil (and no
// error) when the topic does not exist.
func (w *LagWatch) endOffsets(ctx context.Context) (map[int]int64, error) {
	ends, err := w.clients.EndOffsets(ctx, w.topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return nil, nil
	}
	return ends, err
}

// committed are the indexer group's committed offsets of the partitions
// of ends (-1: none).
func (w *LagWatch) committed(ctx context.Context, ends map[int]int64) (map[int]int64, error) {
	parts := make([]int, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	res, err := w.clients.Admin().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: w.group, Topics: map[string][]int{w.topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", w.group, err)
	}
	committed := make(map[int]int64, len(parts))
	// A group that never committed: Apache Kafka answers -1 offsets, kfake
	// (and newer protocol versions) Group ID Not Found.
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		return committed, nil
	}
	if res.Error != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", w.group, res.Error)
	}
	for _, op := range res.Topics[w.topic] {
		if errors.Is(op.Error, kafka.GroupIdNotFound) {
			continue
		}
		if op.Error != nil {
			return nil, fmt.Errorf("offset of group %s on %s/%d: %w", w.group, w.topic, op.Partition, op.Error)
		}
		committed[op.Partition] = op.CommittedOffset
	}
	return committed, nil
}
