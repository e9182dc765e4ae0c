package indexer

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// LagWatch reports the messages not yet indexed while the indexer is
// stopped, and no lag once it caught up.
func TestLagWatch(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/exchange.db")
	m := NewMetrics(nil)
	lw := NewLagWatch(e.clients, testGroup, LagLogger(quiet), LagMetrics(m))
	lw.Poll(e.ctx)
	if lag := lw.Lag(); !lag.Known || lag.Messages != 0 || lag.Behind != 0 {
		t.Fatalf("lag of an empty audit topic = %+v, want known, 0", lag)
	}

	e.publish(entries(source, 0, 0, 500), 100)
	e.publish(entries(source, 1, 0, 300), 100)
	lw.Poll(e.ctx)
	if lag := lw.Lag(); !lag.Known || lag.Messages != 8 {
		t.Fatalf("lag with the indexer stopped = %+v, want known, 8 messages", lag)
	}
	if got := testutil.ToFloat64(m.lagMsgs); got != 8 {
		t.Errorf("exchange_index_lag_messages = %v, want 8", got)
	}

	e.start(nil)
	waitFor(t, "lag 0 after the indexer started", func() bool {
		lw.Poll(e.ctx)
		lag := lw.Lag()
		return lag.Known && lag.Messages == 0
	})
	if lag := lw.Lag(); lag.Behind != 0 {
		t.Errorf("lag caught up = %+v, want Behind 0", lag)
	}
	if got := testutil.ToFloat64(m.lagSecs); got != 0 {
		t.Errorf("exchange_index_lag_seconds = %v after catching up, want 0", got)
	}
}

// A missing audit topic is no lag, and nothing to wait for.
func TestLagWatchNoTopic(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/exchange.db")
	lw := NewLagWatch(e.clients, "other-exchange", LagLogger(quiet))
	lw.Poll(e.ctx)
	if lag := lw.Lag(); !lag.Known || lag.Messages != 0 {
		t.Fatalf("lag without an audit topic = %+v, want known, 0", lag)
	}
	if err := lw.WaitCaughtUp(e.ctx); err != nil {
		t.Fatalf("WaitCaughtUp without an audit topic: %v", err)
	}
}

// Behind is the age of the first end-offset sample past the committed
// offset, over all partitions.
func TestLagOf(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	history := []endSample{
		{at: t0, ends: map[int]int64{0: 5, 1: 0}},
		{at: t0.Add(2 * time.Second), ends: map[int]int64{0: 9, 1: 4}},
		{at: t0.Add(5 * time.Second), ends: map[int]int64{0: 12, 1: 4}},
	}
	now := t0.Add(10 * time.Second)
	ends := history[2].ends
	cases := []struct {
		name      string
		committed map[int]int64
		msgs      int64
		behind    time.Duration
	}{
		{"caught up", map[int]int64{0: 12, 1: 4}, 0, 0},
		{"partition 0 behind since the third sample", map[int]int64{0: 9, 1: 4}, 3, 5 * time.Second},
		{"partition 1 behind since the second sample", map[int]int64{0: 12, 1: 2}, 2, 8 * time.Second},
		{"oldest of both", map[int]int64{0: 4, 1: 2}, 10, 10 * time.Second},
		{"no commit (-1) counts from 0", map[int]int64{0: -1, 1: -1}, 16, 10 * time.Second},
		{"partition missing from the commits", map[int]int64{0: 12}, 4, 8 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lag := lagOf(now, ends, c.committed, history)
			if !lag.Known || lag.Messages != c.msgs || lag.Behind != c.behind || !lag.At.Equal(now) {
				t.Errorf("lagOf = %+v, want known, %d messages, behind %v, at %v", lag, c.msgs, c.behind, now)
			}
		})
	}
}

// The history keeps a sample only when an end offset moved, and at most
// maxHist of them.
func TestLagHistory(t *testing.T) {
	w := &LagWatch{maxHist: 3}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, end := range []int64{1, 1, 2, 2, 3, 4, 4} {
		w.addSample(t0.Add(time.Duration(i)*time.Second), map[int]int64{0: end})
	}
	var got []int64
	for _, s := range w.history {
		got = append(got, s.ends[0])
	}
	if len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Fatalf("history ends = %v, want [2 3 4]", got)
	}
	if !w.history[0].at.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("first kept sample at %v, want the time end 2 was first seen", w.history[0].at)
	}
}
