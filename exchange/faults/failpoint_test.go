package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKillAtFailpoints: the exchange kills itself (SIGKILL, from
// exchange/failpoint) at each of the four points of a batch's life —
// after the fetch, after produce (deliveries, quarantine copies and audit
// entries acknowledged), after_ledger (right before the commit: the audit
// entries durable in Kafka), after the commit — each on the first batch of
// a new process, which finds a backlog; it is restarted after each, and
// after each kill everything committed is delivered and in the audit
// topic. Then the full check, against the index once it caught up.
func TestKillAtFailpoints(t *testing.T) {
	w := newWorld(t, worldOpts{})
	mon := w.monitorOffsets()
	wr := w.publisher()
	points := []string{"after_fetch", "after_produce", "after_ledger", "after_commit"}
	const burst = 600
	var notes []string
	for i, fp := range points {
		if err := w.publish(w.ctx, wr, goodMix, i*burst, burst); err != nil {
			t.Fatal(err)
		}
		p := w.start(fmt.Sprintf("exchange-%d-%s", i+1, fp), "EXCHANGE_FAILPOINT="+fp+":1")
		w.awaitSelfKill(p, fp, 60*time.Second)
		com := w.committedTotal()
		notes = append(notes, fmt.Sprintf("%s (%d of %d committed)", fp, com, w.published()))
		t.Logf("killed at %s:1 with %d of %d records committed", fp, com, w.published())
		w.checkCommitted("after the kill at " + fp)
	}
	w.start("exchange-final")
	if err := w.publish(w.ctx, wr, goodMix, len(points)*burst, burst); err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(75 * time.Second)
	w.report(w.verify(nil), mon, "kill -9 at the first batch's "+strings.Join(notes, ", "))
}
