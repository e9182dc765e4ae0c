package faults

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
)

// TestIndexerKilledMidCopy: on a PostgreSQL of its own, a first exchange
// indexes 5,000 records and stops; then, with a backlog of 20,000 more (so
// that the index writes are large), the exchange SIGKILLs itself
// (failpoint index_mid_copy) in the middle of its first index write —
// half of the rows sent inside COPY, nothing committed. The index then
// holds exactly the first 5,000 positions, a verified prefix of each
// chain of the audit topic: nothing of the killed write. Restarted without
// the failpoint, the exchange finishes; the index is complete (one entry
// per record), verifies, and `exchange audit verify` says ok.
func TestIndexerKilledMidCopy(t *testing.T) {
	needBinary(t)
	pg := startPostgres(t)
	w := newWorld(t, worldOpts{dbURL: pg.url})
	mon := w.monitorOffsets()
	wr := w.publisher()
	const before, backlog = 5000, 20000
	if err := w.publish(w.ctx, wr, goodMix, 0, before); err != nil {
		t.Fatal(err)
	}
	p0 := w.start("exchange-0")
	w.waitIngressConsumed(60 * time.Second)
	w.waitForState("the first records indexed", 60*time.Second, func() (bool, string) {
		idx, _, err := w.readIndex(false)
		if err != nil {
			return false, err.Error()
		}
		return len(idx) == before, fmt.Sprintf("%d of %d indexed", len(idx), before)
	})
	p0.signal(t, syscall.SIGTERM)
	<-p0.done
	if err := w.publish(w.ctx, wr, goodMix, before, backlog); err != nil {
		t.Fatal(err)
	}
	p := w.start("exchange-1-index_mid_copy", "EXCHANGE_FAILPOINT=index_mid_copy:1")
	w.awaitSelfKill(p, "index_mid_copy", 120*time.Second)
	indexed, audited := w.checkIndexPrefix("after the kill mid-COPY")
	if indexed != before {
		t.Errorf("after the kill mid-COPY the index holds %d positions, want the %d indexed before: the killed write's rows were committed, or earlier ones lost", indexed, before)
	}
	upTo := w.checkCommitted("after the kill mid-COPY")
	note := fmt.Sprintf("kill -9 mid-COPY with %d of %d audited positions indexed and %d of %d records committed", indexed, audited, sum(upTo), before+backlog)
	t.Log(note)
	w.start("exchange-2")
	if err := w.publish(w.ctx, wr, goodMix, before+backlog, 1000); err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(120 * time.Second)
	f := w.verify(nil)
	ok := w.auditVerifyCLI()
	w.report(f, mon, note+"; "+ok)
}

// TestIndexerKilledAfterIndex: the exchange SIGKILLs itself (failpoint
// after_index) right after its first index write committed, before the
// indexer committed the audit topic offsets of that write. The index holds
// a verified prefix of the audit topic and the indexer's group no offset;
// the restarted exchange indexes those audit messages again: every entry
// of the first write is counted a duplicate and none is chained twice (the
// index grows by exactly what the new process stored); the final check
// finds one entry per record, verified.
func TestIndexerKilledAfterIndex(t *testing.T) {
	w := newWorld(t, worldOpts{})
	mon := w.monitorOffsets()
	wr := w.publisher()
	const backlog = 5000
	if err := w.publish(w.ctx, wr, goodMix, 0, backlog); err != nil {
		t.Fatal(err)
	}
	p := w.start("exchange-1-after_index", "EXCHANGE_FAILPOINT=after_index:1")
	w.awaitSelfKill(p, "after_index", 120*time.Second)
	first, audited := w.checkIndexPrefix("after the kill at after_index")
	if first == 0 {
		t.Fatalf("after the kill at after_index the index is empty: the write before the failpoint was not committed")
	}
	if com := w.indexerCommitted(); com > 0 {
		t.Errorf("after the kill at after_index the indexer's group committed %d audit messages: the failpoint is before that commit", com)
	}
	w.checkCommitted("after the kill at after_index")
	p2 := w.start("exchange-2")
	if err := w.publish(w.ctx, wr, goodMix, backlog, 1000); err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(120 * time.Second)
	f := w.verify(nil)
	// The new process found the first write's entries indexed (duplicates)
	// and chained only the rest: index size = first write + its stored.
	var size int
	var stored, dups float64
	w.waitForState("the new process's index counts to settle", 30*time.Second, func() (bool, string) {
		idx, _, err := w.readIndex(false)
		if err != nil {
			return false, err.Error()
		}
		size, stored, dups = len(idx), p2.sample(metricIndexStored), p2.sample(metricIndexDuplicates)
		return int(stored)+first == size && int(dups) >= first,
			fmt.Sprintf("index %d entries, first write %d, new process stored %.0f and counted %.0f duplicates", size, first, stored, dups)
	})
	ok := w.auditVerifyCLI()
	w.report(f, mon, fmt.Sprintf("kill -9 after the first index write (%d of %d audited positions), before its audit offsets were committed; the restarted indexer counted %.0f duplicates and stored %.0f; %s",
		first, audited, dups, stored, ok))
}

// awaitSelfKill waits until p, started with EXCHANGE_FAILPOINT=<fp>:…,
// killed itself: it must have ended by SIGKILL (the test sent none).
func (w *world) awaitSelfKill(p *proc, fp string, timeout time.Duration) {
	w.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		w.dumpLogs()
		w.t.Fatalf("failpoint %s: the exchange did not kill itself within %v", fp, timeout)
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		w.dumpLogs()
		w.t.Fatalf("failpoint %s: the exchange ended with %v, want SIGKILL", fp, p.err)
	}
}

// checkIndexPrefix checks the index (the SQL ledger) after a kill: every
// chain and checkpoint verifies, each position has one entry that agrees
// with the audit topic's first, and each chain holds exactly the first k
// positions of the audit topic's order for it — a prefix, nothing
// half-written, no gap. It returns how many positions the index and the
// audit topic hold.
func (w *world) checkIndexPrefix(when string) (indexed, audited int) {
	w.t.Helper()
	idx, rep, err := w.readLedger()
	if err != nil {
		w.t.Fatalf("%s: reading the index: %v", when, err)
	}
	if !rep.OK() {
		w.t.Errorf("%s: index verification: %d breaks, first %+v", when, len(rep.Breaks), rep.Breaks[0])
	}
	audit, err := w.readAudit()
	if err != nil {
		w.t.Fatalf("%s: reading the audit topic: %v", when, err)
	}
	var f figures
	compareAudit(&f, audit, idx)
	for _, e := range f.errs {
		w.t.Errorf("%s: %s", when, e)
	}
	perChain := map[int]int{}
	for p, es := range idx {
		if len(es) != 1 {
			w.t.Errorf("%s: ingress %s has %d index entries, want 1", when, p, len(es))
		}
		perChain[p.part]++
	}
	for part, offs := range audit.order {
		k := perChain[part]
		for i, off := range offs {
			if in := len(idx[pos{part, off}]) > 0; in != (i < k) {
				w.t.Errorf("%s: chain %s/%d: the index holds %d entries but not the audit topic's first %d (position %d, the %d-th, indexed %v)", when, w.ingress, part, k, k, off, i+1, in)
				break
			}
		}
	}
	w.t.Logf("%s: the index holds a verified prefix of each chain, %d of the %d positions the audit topic holds (%s); %d chains, %d entries, %d checkpoints verify",
		when, len(idx), len(audit.first), audit, rep.Chains, rep.Entries, rep.Checkpoints)
	return len(idx), len(audit.first)
}

// indexerCommitted is how many audit messages the indexer's group has
// committed (the sum of its committed offsets; none committed is 0).
func (w *world) indexerCommitted() int64 {
	w.t.Helper()
	topic := names.Audit(w.group)
	n, err := w.partitionCount(topic)
	if err != nil {
		w.t.Fatal(err)
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	resp, err := w.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: names.IndexerGroup(w.group), Topics: map[string][]int{topic: parts}})
	if err == nil && resp.Error != nil {
		err = resp.Error
	}
	if err != nil {
		w.t.Fatalf("offsets of %s: %v", names.IndexerGroup(w.group), err)
	}
	var sum int64
	for _, po := range resp.Topics[topic] {
		sum += max(po.CommittedOffset, 0)
	}
	return sum
}

// auditVerifyCLI runs `exchange audit verify` on the scenario's store,
// pinned to the exchange's signing key, and returns its "ok: …" line; the
// test fails unless it exits 0 with one.
func (w *world) auditVerifyCLI() string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exchangeBin, "audit", "verify", "--database", w.dbURL,
		"--public-key", filepath.Join(w.dir, "ledger.key.pub"))
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "ok: ") && err == nil {
			return "exchange audit verify: " + line
		}
	}
	w.t.Errorf("exchange audit verify: %v\n%s", err, out)
	return "exchange audit verify FAILED"
}

// sum adds up offsets.
func sum(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
