package faults

import (
	"strconv"
	"testing"
	"time"
)

// TestPoisonRecords: half the traffic is poison of every sort, mixed with
// good records at full publishing speed; each poison record is quarantined
// with its reason, each good one delivered, all audited.
func TestPoisonRecords(t *testing.T) {
	w := newWorld(t, worldOpts{})
	mon := w.monitorOffsets()
	w.start("exchange")
	wr := w.publisher()
	const n = 3000
	if err := w.publish(w.ctx, wr, poisonMix, 0, n); err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(60 * time.Second)
	counts := map[kind]int{}
	w.mu.Lock()
	for _, e := range w.expect {
		counts[e.kind]++
	}
	w.mu.Unlock()
	f := w.verify(nil)
	w.report(f, mon, "poison by kind "+kindCounts(counts))
}

func kindCounts(c map[kind]int) string {
	s := ""
	for k := kind(0); k < numKinds; k++ {
		if c[k] == 0 {
			continue
		}
		if s != "" {
			s += " "
		}
		s += k.String() + "=" + strconv.Itoa(c[k])
	}
	return s
}
