package indexer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Entries written to the audit topic, several chains over several audit
// partitions, come out of the index chained, and the chains verify.
func TestIndexesAuditTopic(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const perChain = 1250 // 5 messages of 250 per chain
		for p := int32(0); p < 4; p++ {
			e.publish(entries(source, p, 0, perChain), 250)
		}
		r := e.start(nil)
		e.caughtUp()
		if got := e.verify(); got != 4*perChain {
			t.Fatalf("index holds %d entries, want %d", got, 4*perChain)
		}
		if got := testutil.ToFloat64(r.metrics.stored); got != 4*perChain {
			t.Errorf("entries_total{stored} = %v, want %d", got, 4*perChain)
		}
		if got := testutil.ToFloat64(r.metrics.messages); got != 20 {
			t.Errorf("messages_total = %v, want 20", got)
		}
	})
}

// The same entries written twice (a zombie member's duplicate write, or a
// re-processing after a crash) are indexed once and counted as duplicates.
func TestDuplicatesIndexedOnce(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		es := entries(source, 0, 0, 300)
		e.publish(es, 100)
		e.publish(es[100:200], 100) // the zombie's copy of the second message
		r := e.start(nil)
		e.caughtUp()
		if got := e.verify(); got != 300 {
			t.Fatalf("index holds %d entries, want 300", got)
		}
		if got := testutil.ToFloat64(r.metrics.duplicates); got != 100 {
			t.Errorf("entries_total{duplicate} = %v, want 100", got)
		}
		if got := testutil.ToFloat64(r.metrics.stored); got != 300 {
			t.Errorf("entries_total{stored} = %v, want 300", got)
		}
	})
}

// A message that does not decode is recorded as a malformed flag, with its
// position, and the entries around it are indexed.
func TestMalformedMessageFlagged(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		es := entries(source, 0, 0, 20)
		key := chainKey(source, 0)
		e.write(
			kafka.Message{Key: key, Value: ledger.AppendAuditBatch(nil, es[:10])},
			kafka.Message{Key: key, Value: []byte("not an audit batch")},
			kafka.Message{Key: key, Value: ledger.AppendAuditBatch(nil, es[10:])},
		)
		r := e.start(nil)
		e.caughtUp()
		if got := e.verify(); got != 20 {
			t.Fatalf("index holds %d entries, want 20", got)
		}
		if got := testutil.ToFloat64(r.metrics.flagged); got != 1 {
			t.Errorf("entries_total{flagged} = %v, want 1", got)
		}
		fr, ok := e.db.(ledger.FlagReader)
		if !ok {
			t.Fatalf("the %T store does not list flags", e.db)
		}
		flags, total, err := fr.Flags(e.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || len(flags) != 1 {
			t.Fatalf("store holds %d flags (%d listed), want 1", total, len(flags))
		}
		f := flags[0]
		part := partitionOf(t, e, key)
		want := fmt.Sprintf("audit message %s/%d@1: ", e.topic, part)
		if f.Reason != ledger.FlagMalformed || !strings.HasPrefix(f.Detail, want) || string(f.Entry) != "not an audit batch" {
			t.Errorf("flag = %s %q %q, want %s, detail starting %q, the message value", f.Reason, f.Detail, f.Entry, ledger.FlagMalformed, want)
		}
	})
}

// partitionOf is the audit partition the writer's balancer puts key on.
func partitionOf(t *testing.T, e *env, key []byte) int {
	t.Helper()
	parts := make([]int, testPartitions)
	for i := range parts {
		parts[i] = i
	}
	return (&kafka.Hash{}).Balance(kafka.Message{Key: key}, parts...)
}

// A restarted indexer resumes from its group's committed offsets: it
// indexes only what was written after the first one caught up, and the
// index is complete.
func TestRestartResumes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.publish(entries(source, 0, 0, 1000), 100)
		e.publish(entries(source, 1, 0, 1000), 100)
		first := e.start(nil)
		e.caughtUp()
		first.stop(t)

		e.publish(entries(source, 0, 1000, 500), 100)
		e.publish(entries(source, 2, 0, 500), 100)
		second := e.start(nil)
		e.caughtUp()
		if got := e.verify(); got != 3000 {
			t.Fatalf("index holds %d entries, want 3000", got)
		}
		if got := testutil.ToFloat64(second.metrics.stored); got != 1000 {
			t.Errorf("the restarted indexer stored %v entries, want the 1000 written after the first caught up", got)
		}
		if got := testutil.ToFloat64(second.metrics.duplicates); got != 0 {
			t.Errorf("the restarted indexer re-read %v entries, want 0 (all was committed)", got)
		}
	})
}

// While the store fails, the index write is retried and nothing is
// committed; once the store is back, the index completes.
func TestStoreOutageRetried(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.publish(entries(source, 0, 0, 600), 200)
		f := &failingIndex{inner: e.idx, down: true}
		r := e.start(f)
		waitFor(t, "three failed index writes", func() bool { return f.failed() >= 3 })

		lw := NewLagWatch(e.clients, testGroup, LagLogger(quiet))
		lw.Poll(e.ctx)
		if lag := lw.Lag(); !lag.Known || lag.Messages != 3 {
			t.Errorf("lag during the outage = %+v, want 3 messages uncommitted", lag)
		}
		if got := testutil.ToFloat64(r.metrics.failing); got != 1 {
			t.Errorf("store_failing = %v during the outage, want 1", got)
		}
		if got := e.verify(); got != 0 {
			t.Errorf("index holds %d entries during the outage, want 0", got)
		}

		f.setDown(false)
		e.caughtUp()
		if got := e.verify(); got != 600 {
			t.Fatalf("index holds %d entries after the outage, want 600", got)
		}
		if got := testutil.ToFloat64(r.metrics.failures); got < 3 {
			t.Errorf("write_failures_total = %v, want >= 3", got)
		}
		if got := testutil.ToFloat64(r.metrics.failing); got != 0 {
			t.Errorf("store_failing = %v after the outage, want 0", got)
		}
	})
}

// waitFor polls cond for up to a minute (a bound, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stopped while its store is down, the indexer abandons the batch in
// flight and returns, committing nothing; the next one indexes it all.
func TestStopDuringOutage(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.publish(entries(source, 0, 0, 400), 200)
		f := &failingIndex{inner: e.idx, down: true}
		r := e.start(f)
		waitFor(t, "a failed index write", func() bool { return f.failed() >= 1 })
		r.stop(t)

		lw := NewLagWatch(e.clients, testGroup, LagLogger(quiet))
		lw.Poll(e.ctx)
		if lag := lw.Lag(); !lag.Known || lag.Messages != 2 {
			t.Errorf("lag after stopping during the outage = %+v, want 2 messages uncommitted", lag)
		}
		if got := testutil.ToFloat64(r.metrics.messages); got != 0 {
			t.Errorf("messages_total = %v after stopping during the outage, want 0", got)
		}

		next := e.start(nil)
		e.caughtUp()
		if got := e.verify(); got != 400 {
			t.Fatalf("index holds %d entries, want 400", got)
		}
		if got := testutil.ToFloat64(next.metrics.stored); got != 400 {
			t.Errorf("the next indexer stored %v entries, want 400", got)
		}
	})
}

// Two indexers in one group (two exchange processes) index the audit
// topic together; when one stops, the other takes its partitions over from
// their committed offsets. The index ends complete, every entry stored once.
func TestTwoMembers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for c := int32(0); c < 6; c++ {
			e.publish(entries(source, c, 0, 500), 100)
		}
		a, b := e.start(nil), e.start(nil)
		e.caughtUp()
		a.stop(t)
		for c := int32(0); c < 6; c++ {
			e.publish(entries(source, c, 500, 500), 100)
		}
		e.caughtUp()
		if got := e.verify(); got != 6000 {
			t.Fatalf("index holds %d entries, want 6000", got)
		}
		stored := testutil.ToFloat64(a.metrics.stored) + testutil.ToFloat64(b.metrics.stored)
		if stored != 6000 {
			t.Errorf("the members stored %v entries together, want 6000", stored)
		}
		if got := testutil.ToFloat64(b.metrics.stored); got < 3000 {
			t.Errorf("the remaining member stored %v entries, want at least the 3000 written after the other stopped", got)
		}
	})
}
